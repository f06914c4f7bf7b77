"""The Models and Playground tabs' API, driven with gradio_client against the launched app."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from test_models_playground import copy_model
from ui_server import running_app

ENDPOINTS = {"/models", "/model", "/rename_model", "/delete_model", "/merge", "/export", "/generate", "/compare",
             "/load_model", "/unload"}
GREEDY = {"temperature": 0, "repetition_penalty": 1.0}


@pytest.fixture(scope="module")
def client(tiny_model, trained_adapter):
    with running_app() as url:
        yield Client(url, verbose=False)


def test_endpoints_are_documented(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert ENDPOINTS <= set(api)
    assert api["/generate"]["description"] and [p["parameter_name"] for p in api["/generate"]["parameters"]][:4] == \
        ["model", "prompt", "messages", "settings"]


def test_models_and_model(client, trained_adapter):
    listed = client.predict(api_name="/models")
    mine = next(m for m in listed if m["id"] == trained_adapter["id"])
    assert mine["kind"] == "adapter" and mine["files_ok"] and mine["size_bytes"] > 0
    assert mine["folder"] == trained_adapter["path"] and mine["task"] == "text-generation"
    assert isinstance(mine["train_loss"], float) and isinstance(mine["eval_loss"], float)
    d = client.predict(trained_adapter["id"], api_name="/model")
    assert d["config"]["max_steps"] == 12 and "max_steps: 12" in d["config_yaml"]
    assert len(d["history"]["loss"]) == 12 and d["history"]["eval_loss"] and "eval_loss" in d["metrics"]
    assert d["run"]["status"] == "completed"
    with pytest.raises(AppError, match="no model"):
        client.predict("nope", api_name="/model")


def test_rename_and_delete(client, trained_adapter):
    copy = copy_model(trained_adapter, "api-copy")
    assert client.predict(copy["id"], "Parrot talk", api_name="/rename_model")["name"] == "Parrot talk"
    assert any(m["name"] == "Parrot talk" for m in client.predict(api_name="/models"))
    with pytest.raises(AppError, match="empty"):
        client.predict(copy["id"], " ", api_name="/rename_model")
    result = client.predict(copy["id"], api_name="/delete_model")
    assert result["deleted"] == copy["id"] and not Path(copy["path"]).exists()
    assert copy["id"] not in [m["id"] for m in client.predict(api_name="/models")]
    with pytest.raises(AppError, match="no model"):
        client.predict(copy["id"], api_name="/delete_model")


def test_merge_export_and_delete(client, trained_adapter, tmp_path):
    merged = client.predict(trained_adapter["id"], "merged via api", api_name="/merge")
    assert merged["kind"] == "merged" and merged["name"] == "merged via api" and merged["files_ok"]
    zipped = client.predict(merged["id"], api_name="/export")
    with zipfile.ZipFile(zipped) as z:
        assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja",
                "generation_config.json"} <= set(z.namelist())
    adapter_zip = client.predict(trained_adapter["id"], api_name="/export")
    with zipfile.ZipFile(adapter_zip) as z:
        assert "adapter_model.safetensors" in z.namelist()
    # the merged model answers through the API like any other
    text = client.predict(merged["id"], "Hello", None, {**GREEDY, "max_new_tokens": 4}, api_name="/generate")
    assert isinstance(text, str)
    with pytest.raises(AppError, match="already standalone"):
        client.predict(merged["id"], "", api_name="/merge")
    assert client.predict(merged["id"], api_name="/delete_model")["deleted"] == merged["id"]


def test_generate_streams(client, trained_adapter):
    job = client.submit(trained_adapter["id"], "Where is the treasure?", None, {**GREEDY, "max_new_tokens": 24},
                        api_name="/generate")
    updates = list(job)
    assert len(updates) > 1, updates
    assert all(b.startswith(a) for a, b in zip(updates, updates[1:])), "each update extends the last"
    assert updates[-1]

    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Ahoy"},
                {"role": "user", "content": "Where?"}]
    assert client.predict(trained_adapter["id"], "", messages, {**GREEDY, "max_new_tokens": 3}, api_name="/generate")
    summary = client.predict(trained_adapter["id"], "", None, {**GREEDY, "max_new_tokens": 3}, "summarization",
                             "A long story about a ship.", api_name="/generate")
    assert isinstance(summary, str)
    with pytest.raises(AppError, match="temperature"):
        client.predict(trained_adapter["id"], "Hi", None, {"temperature": 9}, api_name="/generate")
    with pytest.raises(AppError, match="outside the folders"):
        client.predict("/etc", "Hi", api_name="/generate")
    with pytest.raises(AppError, match="no message"):
        client.predict(trained_adapter["id"], "", None, None, api_name="/generate")


def test_compare_streams_both(client, trained_adapter):
    job = client.submit(trained_adapter["id"], "Hello", None, {**GREEDY, "max_new_tokens": 12}, api_name="/compare")
    updates = list(job)
    assert len(updates) > 1
    assert updates[-1]["fine_tuned"] and updates[-1]["base"]
    with pytest.raises(AppError, match="nothing to compare"):
        client.predict("tiny-llama", "Hello", api_name="/compare")


def test_two_clients_at_once_both_answered(client, trained_adapter):
    other = Client(client.src, verbose=False)
    results = {}

    def ask(name, c):
        results[name] = c.predict(trained_adapter["id"], f"Hello {name}", None, {**GREEDY, "max_new_tokens": 16},
                                  api_name="/generate")

    threads = [threading.Thread(target=ask, args=(n, c)) for n, c in (("a", client), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(results) == {"a", "b"} and all(isinstance(v, str) and v for v in results.values())


def test_load_and_unload(client, trained_adapter):
    info = client.predict(trained_adapter["id"], api_name="/load_model")
    assert info["model_id"] == trained_adapter["id"] and info["device"] == "cpu"
    out = client.predict(trained_adapter["id"], api_name="/unload")
    assert info["key"] in out["released"] and all(m["key"] != info["key"] for m in out["loaded"])
