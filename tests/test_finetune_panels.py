"""The Finetune tab's handlers called directly (no server, no browser): each takes its panel's real
components, built here inside a gr.Blocks(), and returns {component: value}."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pytest

from forge.ui import UIContext, finetune
from forge.ui.finetune import api, compare, data, form, history, live, settings
from forge.ui.form import COLUMN_ROLES, REWARD_COLUMNS
from forge.ui.inputs import AUTO_TASK, validate_dataset
from forge.ui.run_view import RunView
from forge.ui.widgets import bind


@pytest.fixture(scope="module")
def page() -> finetune.Page:
    with gr.Blocks() as demo:
        finished = gr.Textbox(visible=False)
        with gr.Tabs() as tabs, gr.Tab("Finetune"):
            return finetune.layout(UIContext(demo=demo, tabs=tabs, run_finished=finished))


def form_input(p: finetune.Page, dataset: str = "sample:pirate_persona", **values) -> dict:
    """What a handler reading the whole form receives: each widget's value by component."""
    got = {c: c.value for c in p.form.inputs}
    got[p.form.fields["reward_funcs"]] = settings.rewards_frame()
    got.update({p.data.source: "Sample", p.data.sample: dataset, p.data.uploaded: None, p.data.path: "",
                p.settings.extras: {}})
    got.update({p.form.fields[k]: v for k, v in values.items()})
    return got


def value(update):
    return update["value"] if isinstance(update, dict) else update


def test_bind_keeps_what_gradio_reads():
    def handler(panel, request: gr.Request, evt: gr.SelectData, progress=gr.Progress()):
        return panel

    bound = bind(handler, "the panel")
    import inspect

    assert list(inspect.signature(bound).parameters) == ["request", "evt", "progress"]
    assert gr.utils.get_type_hints(bound) == {"request": gr.Request, "evt": gr.SelectData}
    assert bound(None, None) == "the panel" and bound.__name__ == "handler"


def test_validate_a_sample_turns_start_on_and_offers_its_columns(page):
    d = page.data
    out = data.validate(d, "Sample", "sample:pirate_persona", None, "", AUTO_TASK, "sft", "auto", {}, None)
    assert out[d.ok] is True
    assert "text-generation" in out[d.status]
    assert len(out[d.preview]) > 0 and list(out[d.preview].columns) == data.PREVIEW_HEADERS
    assert value(out[d.problems]) is not None and out[d.problems]["visible"] is False
    assert set(d.pickers) <= set(out) and out[d.columns_box] == gr.update()  # the columns made a dataset: closed


def test_validate_names_a_strategy_that_cannot_train_on_the_task(page):
    d = page.data
    out = data.validate(d, "Sample", "sample:pirate_persona", None, "", AUTO_TASK, "dpo", "auto", {}, None)
    assert out[d.ok] is False
    assert "⚠ Strategy **dpo** trains on" in out[d.status]


def test_validate_without_a_dataset_says_what_to_do(page):
    d = page.data
    out = data.validate(d, "Upload", None, None, "", AUTO_TASK, "sft", "auto", {}, None)
    assert out[d.status] == "Upload a dataset file." and out[d.ok] is False
    out = data.validate(d, "Path or Hub id", None, None, "  ", AUTO_TASK, "sft", "auto", {}, None)
    assert out[d.status] == "Type a dataset file or Hub id."


def test_an_upload_is_saved_and_starts_without_the_old_mapping(page, tmp_path):
    d = page.data
    f = tmp_path / "my rows.jsonl"
    f.write_text(json.dumps({"q": "Hi?", "a": "Hello."}) + "\n", encoding="utf-8")
    out = data.on_upload(d, str(f), {"prompt": "q"})
    assert out[d.uploaded]["name"] == "my rows.jsonl" and out[d.status] == "" and out[d.columns] == {}
    assert d.columns not in data.on_upload(d, None, {})  # no mapping to clear
    # the file's columns tell no task: the mapping step opens, offering them
    result = validate_dataset(out[d.uploaded]["path"], None, "my rows.jsonl")
    cols = data.column_updates(d, result, {})
    assert cols[d.columns_box]["open"] is True
    assert ("q", "q") in [tuple(c) for c in cols[d.column_pickers[COLUMN_ROLES[0]]]["choices"]]


def test_the_form_gives_its_yaml_and_memory_estimate(page):
    s = page.settings
    out = form.on_form(page.form, form_input(page, max_steps=7))
    assert out[s.ok] is True and out[s.error]["visible"] is False
    assert "max_steps: 7" in out[s.yaml] and "dataset: sample:pirate_persona" in out[s.yaml]
    assert out[s.save]["interactive"] is True
    assert out[page.model.memory]["value"]


def test_a_setting_out_of_range_is_named_with_its_label(page):
    s = page.settings
    out = form.on_form(page.form, form_input(page, lora_dropout=5))
    assert out[s.ok] is False and out[s.error]["visible"] is True
    assert "LoRA dropout (lora_dropout):" in out[s.error]["value"]
    assert out[page.model.memory]["value"] == "No estimate until the settings are fixed."


def test_fill_form_from_a_config_and_a_bad_config_file(page, tmp_path):
    f, d = page.form, page.data
    out = form.fill_form(f, {"dataset": "rows.jsonl", "max_steps": 33, "run_name": "again"})
    assert out[f.fields["max_steps"]] == 33 and out[f.fields["run_name"]] == "again"
    assert out[d.source] == "Path or Hub id" and out[d.path] == "rows.jsonl" and d.sample not in out
    out = form.fill_form(f, {"dataset": "sample:news_summaries"})
    assert out[d.source] == "Sample" and out[d.sample] == "sample:news_summaries"

    bad = tmp_path / "broken.yaml"
    bad.write_text("max_steps: [1, 2\n", encoding="utf-8")
    out = form.on_load_config(f, str(bad))
    assert set(out) == {page.settings.error} and out[page.settings.error]["visible"] is True
    assert str(tmp_path) not in out[page.settings.error]["value"]


def test_strategy_settings_follow_the_strategy(page):
    s = page.settings
    out = settings.on_strategy(s, "grpo", "")
    assert out[s.strategy_box]["visible"] is True and out[s.rewards]["visible"] is True
    out = settings.on_strategy(s, "sft", "not-a-loss")
    assert out[s.rewards]["visible"] is False
    assert out[s.fields["loss_type"]]["value"] == ""
    table = settings.on_add_reward(settings.rewards_frame(), "exact_match")
    assert len(table) == 1 and list(table.columns) == REWARD_COLUMNS


def test_render_and_the_watcher_keep_the_plots(page):
    lv = page.live
    view = RunView(run_id="r1", name="demo")
    view.feed([{"t": 1.0, "kind": "status", "status": "running", "message": "Run started"},
               {"t": 2.0, "kind": "metrics", "step": 1, "loss": 3.0, "learning_rate": 1e-4, "phase": "train"}])
    out = live.render(lv, view, {"plots"})
    assert out[lv.run_id] == "r1" and lv.status not in out and len(out[lv.loss_plot]) == 1
    full = live.render(lv, view, set(), full=True)
    assert "Training" in full[lv.status] and full[lv.end] == ""  # nothing to say until the run ends

    watcher = live.Watcher(lv, page.history.table, page.ctx.run_finished, "session")
    first = watcher.keep_plots(out)
    assert first[lv.loss_plot]["colors_in_legend"] == ["train loss"]  # a new series: the chart is rebuilt
    again = watcher.keep_plots({lv.status: "…"})
    assert len(again[lv.loss_plot]) == 1  # left out: sent again as it was
    assert again[lv.strategy_plot] is None


def test_the_watcher_waits_for_the_store_to_record_a_logged_end(tmp_path):
    import asyncio
    import threading
    import time

    from forge.runs import RunStore

    store = RunStore(tmp_path / "runs.json")  # its own: the queue of another test may mend running records
    rid = store.create_run({"name": "logged-first", "status": "running"})["id"]
    threading.Timer(0.3, store.update_run, args=(rid,), kwargs={"status": "stopped"}).start()
    t0 = time.monotonic()
    asyncio.run(live.recorded_end(rid, store=store))
    assert store.get_run(rid)["status"] == "stopped" and 0.25 <= time.monotonic() - t0 < 2  # on the change,
    # not at the end of its time limit
    store.update_run(rid, status="running")  # a record that never ends: the wait gives up
    t0 = time.monotonic()
    asyncio.run(live.recorded_end(rid, timeout=0.3, store=store))
    assert 0.25 <= time.monotonic() - t0 < 2


def test_start_with_a_broken_form_names_the_problem(page):
    lv, request = page.live, SimpleNamespace(session_hash="s1")
    out = live.on_start(lv, page.form, request, form_input(page, lora_dropout=5))
    assert out[lv.error]["visible"] is True and "lora_dropout" in out[lv.error]["value"]
    assert "s1" not in lv.targets


def test_stop_and_select_an_unknown_run():
    note, failed = live.stop_note("no-such-run")
    assert failed and "no-such-run" in note


def test_history_detail_of_an_unknown_run(page):
    h = page.history
    assert history.show_run(h, None) == gr.skip()
    out = history.show_run(h, "no-such-run")
    assert out[h.selected] == "no-such-run" and "no-such-run" in out[h.detail]
    with pytest.raises(Exception, match="whole number"):
        history.resume_run("some-run", "ten")
    text = history.detail_markdown({"name": "r", "id": "1", "status": "completed", "model": "m", "task": None,
                                    "strategy": "sft", "duration_s": 65, "dataset": "sample:x", "devices": "cpu",
                                    "output_dir": "/nowhere", "checkpoints": [{"name": "checkpoint-2", "size": "1 MB"}],
                                    "error": None, "tensorboard_dir": None, "evaluation": None})
    assert "(since deleted)" in text and "Checkpoints: checkpoint-2 (1 MB)" in text


def test_compare_needs_two_runs_and_storage_lists_files(page):
    c, st = page.compare, page.storage
    out = compare.on_compare(c, [])
    assert set(out) == {c.status} and out[c.status]
    out = compare.show_storage(st, "note")
    assert list(out[st.table].columns) == compare.STORAGE_HEADERS and out[st.result] == "note"
    out = compare.on_delete_stored(st, None)
    assert out[st.result] == "Pick a file or an export to delete."
    assert compare.cell(0.123456) == "0.1235" and compare.cell(None) == "" and compare.cell([1]) == "[1]"


def test_page_load_fills_the_machine_and_the_history(page):
    out = finetune.on_page_load(page)
    assert out[page.model.hardware] and isinstance(out[page.history.table], pd.DataFrame)
    assert "choices" in out[page.form.fields["strategy"]]


def test_api_config_is_checked_before_anything_runs():
    for config, message in (("{", "config is not valid JSON"), ([1], "config must be a JSON object"),
                            ({}, "config is empty")):
        with pytest.raises(gr.Error, match=message):
            api._config_object(config, None)
    assert api._config_object('{"max_steps": 3}', None) == {"max_steps": 3}
    checked = api.validate_dataset("sample:pirate_persona")
    assert checked["ok"] and checked["task"] == "text-generation"
    assert {s["name"] for s in api.strategies()} >= {"sft", "dpo"}
