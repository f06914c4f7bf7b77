"""The Models tab's handlers called directly, without a browser: real widgets built inside a
gr.Blocks, a real model (a copy of the tiny model) in the store, and the {component: value}
answers checked."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from forge.runs import get_store
from forge.ui import UIContext
from forge.ui import models as tab
from forge.ui.models import api, evaluate, gguf, page

EVALUATION = {"n": 1, "metrics": {"rougeL": 0.5, "perplexity": 3.0}, "base_metrics": {"rougeL": 0.25, "perplexity": 4.0},
              "samples": [{"prompt": "Ahoy?", "reference": "Ahoy!", "before": "Hello.", "after": "Ahoy, matey!"}]}


def quiet(*args, **kwargs) -> None:
    """Progress reports, dropped."""


@pytest.fixture
def ctx():
    """A page with the Models tab's context: tabs, the run-finished signal, a Playground picker."""
    with gr.Blocks() as demo:
        run_finished = gr.Textbox(visible=False)
        with gr.Tabs() as tabs:
            context = UIContext(demo=demo, tabs=tabs, run_finished=run_finished)
            with gr.Tab("Playground", id="playground"):
                context.playground_model = gr.Dropdown([], allow_custom_value=True)
            with gr.Tab("Models", id="models"):
                yield context


@pytest.fixture
def models_page(ctx) -> page.ModelsPage:
    built = tab.build(ctx)
    for hook in ctx.after_build:  # Open in Playground is wired to the picker made above
        hook(ctx)
    return built


@pytest.fixture
def full_model(tiny_model) -> dict:
    """A copy of the tiny model as a full model of the store, with an end-of-run evaluation and
    recorded samples; a test may rename or delete it."""
    from forge.settings import get_settings

    dest = get_settings().models_dir / f"panels-{time.time_ns()}"
    shutil.copytree(tiny_model, dest)
    return get_store().add_model({"name": f"panel model {time.time_ns()}", "kind": "full", "path": str(dest),
                                  "base_model": str(tiny_model), "task": "text-generation", "strategy": "sft",
                                  "evaluation": EVALUATION, "samples": ["Arr, the treasure be buried."]})


def rows(frame) -> dict[str, dict]:
    """A table of models by id."""
    return {r["Id"]: r for r in frame.to_dict("records")}


def test_the_tab_publishes_its_actions_and_returns_its_widgets(models_page, ctx):
    names = {d.api_name for d in ctx.demo.fns.values() if d.api_visibility == "public"}
    assert {"models", "model", "rename_model", "delete_model", "merge", "export", "evaluate", "evaluations",
            "export_gguf"} <= names
    assert {type(p).__name__ for p in models_page.panels} == {"HeaderPanel", "CurvesPanel", "EvaluationPanel",
                                                              "SamplesPanel", "ConfigPanel", "GgufPanel"}
    from forge.ui.endpoint import description

    assert description(api.evaluate_api).startswith("Evaluate a model on a dataset") and "Args" not in \
        description(api.evaluate_api)


def test_selecting_a_model_fills_every_panel(models_page, full_model):
    p, a = models_page, models_page.actions
    out = page.select(p, gr.SelectData(p.listing.table, {"index": [0, 0], "value": "x",
                                                         "row_value": ["x"] * 10 + [full_model["id"]]}))
    assert set(out) == set(p.detail_outputs), "every widget of the detail view is set"
    assert out[p.selected] == full_model["id"] and out[a.name] == full_model["name"]
    assert out[p.column]["visible"] is True and out[a.confirm]["visible"] is False and out[a.message] == ""
    header, curves, evaluation, samples, config, gguf_panel = p.panels
    assert "full model" in out[header.markdown] and "tiny-llama" in out[header.markdown]
    assert out[curves.plot] is None and out[curves.metrics] == {}, "no run: no curves"
    assert out[evaluation.accordion]["visible"] is True and "1 held-out example" in out[evaluation.head]
    assert out[evaluation.metrics].iloc[0].tolist() == ["ROUGE-L", "0.2500", "0.5000", "+0.2500 ✓"]
    assert out[evaluation.samples].iloc[0].tolist()[2:] == ["Hello.", "Ahoy, matey!"]
    assert out[samples.accordion]["visible"] is True and out[samples.table]["output"].tolist() == \
        ["Arr, the treasure be buried."]
    assert out[config.code] == "# no config recorded"
    assert out[gguf_panel.accordion]["visible"] is True and out[gguf_panel.quant]["value"] == "q8_0"
    assert [v for _, v in out[gguf_panel.quant]["choices"]] == ["f16", "q8_0", "q4_0"]


def test_no_model_or_an_unknown_one(models_page):
    p, a = models_page, models_page.actions
    hidden = page.show(p, None)
    assert hidden[p.selected] is None and hidden[p.column]["visible"] == "hidden"
    assert not set(hidden) & {c for panel in p.panels for c in panel.outputs}, "the panels keep their widgets"
    unknown = page.show(p, "nope")
    assert unknown[p.selected] is None and "There is no model 'nope'" in unknown[a.message]
    assert unknown[p.panels[0].markdown] == "" and unknown[p.panels[2].accordion]["visible"] is False
    assert page.rename(p, None, "x") == gr.skip() and page.delete(p, None) == gr.skip()


def test_rename_refreshes_the_list_and_the_detail(models_page, full_model):
    p, a = models_page, models_page.actions
    out = page.rename(p, full_model["id"], "  Parrot   chatter ")
    assert rows(out[p.listing.table])[full_model["id"]]["Name"] == "Parrot chatter"
    assert out[a.name] == "Parrot chatter" and out[a.message] == "✓ Renamed to **Parrot chatter**."
    assert "model(s)" in out[p.listing.count]
    refused = page.rename(p, full_model["id"], "   ")
    assert set(refused) == {a.message} and refused[a.message].startswith("⚠ ") and "empty" in refused[a.message]


def test_delete_asks_first_then_deletes(models_page, full_model):
    p, a = models_page, models_page.actions
    asked = page.ask_delete(p, full_model["id"])
    assert asked[a.confirm]["visible"] is True and "cannot be undone" in asked[a.question]
    assert full_model["path"] in asked[a.question]
    assert page.cancel_delete(p) == {a.confirm: gr.update(visible=False)}
    out = page.delete(p, full_model["id"])
    assert full_model["id"] not in rows(out[p.listing.table]) and not Path(full_model["path"]).exists()
    assert out[p.selected] is None and out[p.column]["visible"] == "hidden"
    again = page.delete(p, full_model["id"])
    assert again[a.confirm]["visible"] is False and "There is no model" in again[a.message]
    assert "There is no model" in page.ask_delete(p, full_model["id"])[a.question]


def test_merge_refuses_a_full_model_and_export_zips_it(models_page, full_model):
    p, a = models_page, models_page.actions
    refused = page.merge_into_base(p, full_model["id"], progress=quiet)
    assert set(refused) == {a.message} and "already standalone" in refused[a.message]
    out = page.export_zip(p, full_model["id"], progress=quiet)
    assert out[a.download]["visible"] is True and out[a.message].startswith("✓ Ready to download")
    with zipfile.ZipFile(out[a.download]["value"]) as z:
        assert "config.json" in z.namelist()


def test_open_in_playground_switches_tab(ctx, full_model):
    out = page.open_in_playground(ctx, full_model["id"])
    assert out[ctx.playground_model]["value"] == full_model["id"]
    assert out[ctx.tabs].selected == "playground"


def test_gguf_panel_offers_a_gguf_models_file(models_page, full_model):
    panel = models_page.panels[-1]
    assert panel.fill(None)[panel.accordion]["visible"] is False
    d = tab.model_detail(full_model["id"])
    out = panel.fill({**d, "kind": "gguf", "files_ok": False})  # its file gone: nothing to download
    assert out[panel.accordion]["label"] == "GGUF file" and out[panel.quant]["visible"] is False
    assert out[panel.file]["visible"] is False and "ollama create" in out[panel.message]
    assert gguf.export_file(panel, None, "q8_0") == gr.skip()
    refused = gguf.export_file(panel, full_model["id"], "q3", progress=quiet)
    assert "not a GGUF type" in refused[panel.message] and refused[panel.file]["visible"] is False


def test_evaluate_section(ctx, full_model, tmp_path):
    panel = evaluate.evaluate_panel(ctx)
    bad = tmp_path / "rows.exe"
    bad.write_text("{}\n")
    refused = evaluate.save_upload(panel, str(bad))
    assert refused[panel.uploaded] is None and refused[panel.status].startswith("⚠ rows.exe: unsupported file type")
    kept = evaluate.save_upload(panel, str(bad.rename(tmp_path / "rows.jsonl")))
    assert Path(kept[panel.uploaded]).read_text() == "{}\n" and kept[panel.status] == ""
    assert evaluate.save_upload(panel, None) == {panel.uploaded: None, panel.status: ""}

    missing = evaluate.evaluate_and_show(panel, "", "Sample", "sample:qa_facts", None, "", "", 2, 2, progress=quiet)
    assert set(missing) == {panel.status} and "No model was chosen" in missing[panel.status]
    too_many = evaluate.evaluate_and_show(panel, full_model["id"], "Sample", "sample:qa_facts", None, "", "", 5000, 2,
                                          progress=quiet)
    assert "Max samples (max_samples): 5000 is not a whole number from 1 to 1000" in too_many[panel.status]

    out = evaluate.evaluate_and_show(panel, full_model["id"], "Sample", "sample:qa_facts", None, "", "", 2, 2,
                                     progress=quiet)
    assert out[panel.status].startswith(f"✓ **{full_model['name']}** on `sample:qa_facts` (extractive-qa, 2 examples")
    assert full_model["name"] in out[panel.table]["Model"].tolist() and len(out[panel.answers]) == 2
    shown = evaluate.show_comparison(panel, "Sample", "sample:qa_facts", None, "")
    assert full_model["name"] in shown[panel.table]["Model"].tolist()
    stored = api.evaluations_api("sample:qa_facts")
    assert any(e["model_id"] == full_model["id"] for e in stored)
    json.dumps(stored)  # what the API returns is JSON


def test_evaluate_picker_offers_a_finished_runs_model(ctx, full_model):
    panel = evaluate.evaluate_panel(ctx)
    get_store().update_model(full_model["id"], run_id="run-evaluate-panel")
    assert evaluate.offer_run_model(panel, "run-evaluate-panel", "kept")[panel.model]["value"] == full_model["id"]
    assert evaluate.offer_run_model(panel, "no-such-run", "kept")[panel.model]["value"] == "kept"
    assert evaluate.refresh_models(panel, "kept")[panel.model]["value"] == "kept"  # a refresh keeps the pick


def test_api_functions(full_model):
    d = api.model_api(full_model["id"])
    assert "_view" not in d and d["evaluation"] == EVALUATION
    assert any(m["id"] == full_model["id"] for m in api.models_api())
    assert api.rename_model_api(full_model["id"], "api named")["name"] == "api named"
    assert api.delete_model_api(full_model["id"])["deleted"] == full_model["id"]
