"""Evaluation on the page and through the API: /evaluate with gradio_client on a fine-tuned tiny
model, two evaluations compared on one dataset, and the data behind the Models tab's before/after
panel and the Finetune tab's end-of-run view."""

from __future__ import annotations

import re

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from forge.config import EMBEDDED_MODEL
from forge.ui.choices import model_choices
from forge.ui.run_view import run_detail
from forge.ui.tables import (
    BEFORE_AFTER_HEADERS,
    before_after_rows,
    comparison_rows,
    evaluation_markdown,
    evaluation_metric_rows,
    tensorboard_markdown,
)
from ui_server import running_app

DATASET = "sample:qa_facts"


@pytest.fixture(scope="module")
def client(tiny_model, trained_adapter):
    with running_app() as url:
        yield Client(url, verbose=False)


def test_evaluate_endpoint_is_documented(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/evaluate", "/evaluations"} <= set(api)
    assert api["/evaluate"]["description"]
    assert [p["parameter_name"] for p in api["/evaluate"]["parameters"]] == \
        ["model", "dataset", "task", "max_samples", "max_new_tokens"]


def test_evaluate_two_models_and_compare(client, trained_adapter, tiny_model):
    tuned = client.predict(trained_adapter["id"], DATASET, "", 3, 4, api_name="/evaluate")
    assert tuned["model_id"] == trained_adapter["id"] and tuned["kind"] == "adapter" and tuned["n"] == 3
    assert set(tuned["metrics"]) >= {"exact_match", "f1", "perplexity", "loss"}
    assert tuned["task"] == "extractive-qa" and tuned["id"] and len(tuned["samples"]) == 3
    base = client.predict("tiny-llama", DATASET, "extractive-qa", 3, 4, api_name="/evaluate")
    assert base["kind"] == "base" and base["model_id"] is None
    # the adapter changed the model: its loss on the same rows differs from its base's
    assert tuned["metrics"]["loss"] != base["metrics"]["loss"]

    stored = client.predict(DATASET, api_name="/evaluations")
    ids = [e["id"] for e in stored]
    assert tuned["id"] in ids and base["id"] in ids
    assert all(e["dataset"] == DATASET for e in stored)

    from forge.ui.models import comparison_frame

    frame = comparison_frame(DATASET)
    assert {"Model", "Examples", "Exact match", "F1", "Perplexity"} <= set(frame.columns)
    rows = {r["Id"]: r for r in frame.to_dict("records")}
    assert rows[tuned["id"]]["Model"] == trained_adapter["name"] and rows[tuned["id"]]["Examples"] == 3
    assert rows[base["id"]]["Model"] == "tiny-llama"
    # the same folder picked by its full path goes by the same short name, with no server path shown
    again = client.predict(str(tiny_model), DATASET, "extractive-qa", 2, 4, api_name="/evaluate")
    assert again["label"] == "tiny-llama"
    assert rows[tuned["id"]]["Perplexity"] != rows[base["id"]]["Perplexity"]


def test_evaluate_refuses_bad_input(client, trained_adapter):
    with pytest.raises(AppError, match="no model|does not exist|No model"):
        client.predict("", DATASET, "", 2, 4, api_name="/evaluate")
    for samples, new_tokens, field in ((5000, 4, "Max samples (max_samples)"), (2.6, 4, "Max samples (max_samples)"),
                                       (2, 0, "Max new tokens (max_new_tokens)")):
        with pytest.raises(AppError, match=re.escape(field) + ".*is not a whole number from 1 to"):
            client.predict(trained_adapter["id"], DATASET, "", samples, new_tokens, api_name="/evaluate")
    with pytest.raises(AppError, match="(?i)outside|allowed|not allowed"):
        client.predict(trained_adapter["id"], "/etc/passwd", "", 2, 4, api_name="/evaluate")


def test_before_after_panel_data(trained_adapter):
    """The model detail carries the run's evaluation; the helpers lay it out for the panels."""
    from forge import models

    d = models.detail(trained_adapter["id"])
    ev = d["evaluation"]
    assert ev and ev["n"] == len(ev["samples"]) > 0
    rows = before_after_rows(ev)
    assert len(rows) == ev["n"] and all(len(r) == len(BEFORE_AFTER_HEADERS) for r in rows)
    assert [r[0] for r in rows] == [s["prompt"] for s in ev["samples"]]
    assert [r[2] for r in rows] == [s["before"] for s in ev["samples"]]
    assert [r[3] for r in rows] == [s["after"] for s in ev["samples"]]
    metrics = {r[0]: r for r in evaluation_metric_rows(ev)}
    assert {"ROUGE-L", "Perplexity"} <= set(metrics)
    label, base, tuned, change = metrics["Perplexity"]
    assert float(base) == pytest.approx(ev["base_metrics"]["perplexity"], abs=1e-4)
    assert float(tuned) == pytest.approx(ev["metrics"]["perplexity"], abs=1e-4)
    assert change.endswith("✓")  # training lowered the perplexity on held-out rows

    md = evaluation_markdown(ev, samples=2, width=40)
    assert "Base model" in md and "Fine-tuned" in md and "Perplexity" in md
    assert md.count("\n|") >= 2 + len(metrics) + 2


def test_helpers_on_hand_made_records():

    ev = {"n": 2, "metrics": {"rouge1": 0.5, "perplexity": 3.0}, "base_metrics": {"rouge1": 0.25, "perplexity": 4.0},
          "samples": [{"prompt": "a | b", "reference": "r", "before": None, "after": "x" * 50}]}
    assert evaluation_metric_rows(ev) == [["ROUGE-1", "0.2500", "0.5000", "+0.2500 ✓"],
                                                ["Perplexity", "4.0000", "3.0000", "-1.0000 ✓"]]
    assert before_after_rows(ev, width=10) == [["a | b", "r", "(not measured)", "x" * 9 + "…"]]
    assert "a \\| b" in evaluation_markdown(ev)
    assert evaluation_markdown(None) == ""
    headers, rows = comparison_rows([
        {"id": "e1", "label": "one", "kind": "adapter", "task": "summarization", "n": 3, "metrics": {"rouge1": 0.1}},
        {"id": "e2", "model": "/x/two", "task": "summarization", "n": 3, "metrics": {"rougeL": 0.2}}])
    assert headers[:4] == ["Model", "Kind", "Task", "Examples"] and headers[4:6] == ["ROUGE-1", "ROUGE-L"]
    assert rows[0][:6] == ["one", "adapter", "summarization", 3, "0.1000", ""]
    assert rows[1][0] == "two" and rows[1][5] == "0.2000"


def test_run_view_follows_the_evaluation_event(trained_adapter):

    d = run_detail(trained_adapter["run_id"])
    view = d["_view"]
    assert view.evaluation and view.evaluation["samples"] == d["evaluation"]["samples"]
    assert view.update()["evaluation"]["n"] == d["evaluation"]["n"]
    assert "TensorBoard logs: disabled" in tensorboard_markdown(d["tensorboard_dir"])


def test_finetune_picker_lists_cached_hub_models(monkeypatch):
    from forge import catalog

    monkeypatch.setattr(catalog, "cached_models", lambda: [
        {"repo_id": "org/cached-model", "path": "/cache/x", "size": "1.0 MB", "modified": 1.0}])
    choices = model_choices()
    assert ("org/cached-model (downloaded, 1.0 MB)", "org/cached-model") in choices
    assert choices[0][1] == EMBEDDED_MODEL
