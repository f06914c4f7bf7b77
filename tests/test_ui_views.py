"""The page's plain-Python helpers and the built page's wiring: no server, no browser."""

from __future__ import annotations

import asyncio
import json

import pytest

from forge.config import EMBEDDED_MODEL, parse_config
from forge.errors import ConfigError, SandboxError
from forge.memory import EMBEDDED_SHAPE
from forge.training.events import EventLog
from forge.training.state import expected_series, strategy_metric_keys
from forge.ui.choices import hardware
from forge.ui.form import (
    REWARD_COLUMNS,
    config_to_form,
    config_yaml,
    form_defaults,
    form_to_config,
    loss_type_choices,
    memory_estimate,
    reward_row,
    rows_to_rewards,
    settings_visibility,
)
from forge.ui.inputs import AUTO_TASK, check_model_ref, save_upload
from forge.ui.run_view import MAX_PLOT_POINTS, RunView, follow, log_html, start_label


def test_run_view_folds_events_into_plots_progress_and_log():
    v = RunView(run_id="r1", name="demo")
    changed = v.feed([
        {"t": 1.0, "kind": "status", "status": "running", "message": "Run started"},
        {"t": 1.1, "kind": "log", "level": "info", "message": "Loading model"},
        {"t": 2.0, "kind": "metrics", "step": 1, "loss": 3.0, "learning_rate": 1e-4, "phase": "train"},
        {"t": 2.1, "kind": "metrics", "step": 2, "loss": 2.5, "learning_rate": 2e-4, "phase": "train"},
        {"t": 2.2, "kind": "metrics", "step": 2, "eval_loss": 2.7, "phase": "train"},
        {"t": 2.3, "kind": "progress", "step": 2, "max_steps": 8, "epoch": 0.25, "elapsed": 4.0, "eta": 12.0,
         "tokens_per_second": 1234.5, "phase": "train"},
    ])
    assert changed == {"status", "log", "plots", "progress"}
    loss = v.loss_frame()
    assert list(loss.columns) == ["step", "loss", "series"]
    assert loss[loss.series == "train loss"].loss.tolist() == [3.0, 2.5]
    assert loss[loss.series == "eval loss"].loss.tolist() == [2.7]
    assert v.lr_frame().learning_rate.tolist() == [1e-4, 2e-4]
    assert v.progress_text() == "Step 2 / 8 · epoch 0.25 · ETA 0:12 · 1,234 tokens/s · elapsed 0:04"
    assert 'style="width:25.0%"' in v.progress_html()
    assert "Loading model" in v.log_text() and "Training" in v.status_markdown()
    assert not v.finished
    v.feed([{"t": 3, "kind": "status", "status": "failed", "message": "Training ran out of memory."},
            {"t": 3, "kind": "result", "status": "failed", "metrics": {}, "output_dir": None,
             "error": "Training ran out of memory."}])
    assert v.finished and v.error == "Training ran out of memory." and "Failed" in v.status_markdown()
    assert "<b>" not in log_html(["<b>not html</b>"])


def test_plots_stay_bounded_however_long_the_run():
    v = RunView(run_id="r2")
    v.feed([{"t": 0, "kind": "metrics", "step": i, "loss": 1 / i, "learning_rate": 0.1, "phase": "train"}
            for i in range(1, 50_001)])
    frame = v.loss_frame()
    assert len(frame) <= MAX_PLOT_POINTS + 1 and frame.step.iloc[-1] == 50_000
    assert len(v.lr_frame()) <= MAX_PLOT_POINTS + 1


def test_follow_reads_only_new_events(home, live_run):
    from pathlib import Path

    from forge.runs import get_store
    from forge.training import get_queue

    get_queue()  # (it reconciles runs whose worker is gone: this one's must look alive)
    rec = live_run("follow-test")
    path = Path(rec["events_path"])
    log = EventLog(path)
    log.emit("status", status="running", message="")

    async def scenario():
        seen = []
        agen = follow(rec["id"], poll=0.01)
        view, events, _ = await agen.__anext__()
        seen.append(len(events))
        log.emit("metrics", step=1, loss=1.0, phase="train")
        view, events, changed = await agen.__anext__()
        seen.append([e["kind"] for e in events])
        assert "plots" in changed
        offset = view.offset
        log.emit("result", status="completed", metrics={"loss": 1.0}, output_dir=None, error=None)
        view, events, _ = await agen.__anext__()
        seen.append([e["kind"] for e in events])
        assert view.finished and view.offset > offset
        return seen

    try:
        assert asyncio.run(scenario()) == [1, ["metrics"], ["result"]]
    finally:
        get_store().update_run(rec["id"], status="completed")


def test_form_round_trip_and_profile_defaults():
    values = form_defaults()
    values.update(model_name=EMBEDDED_MODEL, dataset="sample:pirate_persona", max_steps=30, max_samples=None,
                  eval_steps=None, bnb_4bit_compute_dtype="", target_modules="q_proj, v_proj", run_name="")
    cfg = form_to_config(values)
    assert cfg.max_steps == 30 and cfg.task is None and cfg.run_name is None and cfg.eval_steps is None
    assert cfg.target_modules == ["q_proj", "v_proj"]
    back = config_to_form(cfg)
    assert back["target_modules"] == "q_proj, v_proj" and back["task"] == AUTO_TASK
    # settings left to their defaults come back as the form shows them: empty, or the "auto" choice
    assert back["bnb_4bit_compute_dtype"] == "" and back["max_samples"] == "" and back["beta"] == ""
    assert config_to_form(parse_config({"strategy": "dpo", "beta": 0.25}))["beta"] == "0.25"
    text, err = config_yaml({**values, "model_name": "no-such-model"})  # Start would refuse it: say so now
    assert text == "" and err.startswith("model_name: there is no model named 'no-such-model'")
    for field, value, message in (("per_device_train_batch_size", 2.7, "got a number with a fractional part"),
                                  ("learning_rate", None, "learning_rate: empty. Type a number."),
                                  ("max_samples", "lots", "max_samples: Input should be a valid integer")):
        text, err = config_yaml({**values, field: value})
        assert text == "" and message in err, (field, err)
    # a config that leaves the batch size to the profile shows the profile's value
    assert config_to_form(parse_config({"max_steps": 5}))["per_device_train_batch_size"] == 4
    text, err = config_yaml({**values, "learning_rate": -1})
    assert text == "" and "learning_rate" in err


def test_memory_estimate_warns_when_the_run_will_not_fit():
    text, warn = memory_estimate({"model_name": EMBEDDED_MODEL, "lora_r": 16, "per_device_train_batch_size": 4,
                                        "max_seq_length": 256})
    assert "Memory estimate" in text and not warn
    text, warn = memory_estimate({"model_name": EMBEDDED_MODEL, "lora_r": 0, "per_device_train_batch_size": 512,
                                        "max_seq_length": 8192})
    assert warn and "Will not fit" in text


def test_model_references_from_the_page_are_sandboxed(home, tmp_path, tiny_model):
    assert check_model_ref(EMBEDDED_MODEL) == EMBEDDED_MODEL
    assert check_model_ref("org/some-model") == "org/some-model"  # a Hub id
    assert check_model_ref(tiny_model.name) == str(tiny_model.resolve())  # a folder of models/
    for ref in ("/etc", "../../..", str(tmp_path), "~"):
        with pytest.raises(SandboxError) as e:
            check_model_ref(ref)
        assert "Put the model folder in" in str(e.value) and "upload" not in str(e.value).lower()
    with pytest.raises(ConfigError) as e:  # a name that matches nothing is said so, not "outside the folders"
        check_model_ref("no-such-model")
    assert "there is no model named 'no-such-model'" in str(e.value) and "outside" not in str(e.value)


def test_upload_is_copied_into_the_datasets_folder(home, tmp_path):
    src = tmp_path / "my data!.jsonl"
    src.write_text(json.dumps({"input": "a", "output": "b"}) + "\n")
    dest = save_upload(src, src.name)
    assert dest.parent == home / "datasets" and dest.suffix == ".jsonl" and " " not in dest.name
    with pytest.raises(Exception, match="unsupported file type"):
        save_upload(src, "notes.docx")


def test_only_the_selected_strategys_settings_show():
    from forge.strategies import STRATEGIES

    for name, cls in STRATEGIES.items():
        shown = settings_visibility(name)
        assert {k for k, v in shown.items() if v} == set(cls.settings)
    assert not any(settings_visibility("sft").values()) and not any(settings_visibility("qlora").values())
    dpo = settings_visibility("dpo")
    assert dpo["beta"] and dpo["loss_type"] and dpo["max_prompt_length"] and not dpo["reward_funcs"]
    grpo = settings_visibility("grpo")
    assert grpo["reward_funcs"] and grpo["num_generations"] and grpo["max_completion_length"]
    assert not grpo["desirable_weight"] and not grpo["reward_model"]
    assert [v for _, v in loss_type_choices("kto")] == ["", "kto", "apo_zero_unpaired"]
    assert loss_type_choices("sft") == [("default", "")]
    # hidden settings keep their widget values but stay out of the config
    values = {**form_defaults(), "strategy": "sft", "beta": 0.3, "loss_type": "ipo",
              "reward_funcs": [reward_row("length")]}
    cfg = form_to_config(values)
    assert cfg.beta is None and cfg.loss_type is None and cfg.reward_funcs == []
    cfg = form_to_config({**values, "strategy": "dpo"})
    assert cfg.beta == 0.3 and cfg.loss_type == "ipo" and cfg.reward_funcs == []


def test_reward_funcs_table_round_trips_through_the_config():
    import pandas as pd

    cfg = parse_config({"strategy": "grpo", "reward_funcs": [
        {"type": "exact_match", "weight": 2.0, "ignore_case": False},
        {"type": "regex", "pattern": r"^\d+$", "full_match": True},
        {"type": "length", "target": 20, "unit": "characters", "weight": 0.5},
        {"type": "format", "format": "json"},
        {"type": "no_repetition", "ngram_size": 4, "weight": -1.0}]})
    values = config_to_form(cfg)
    rows = values["reward_funcs"]
    assert len(rows) == 5 and all(len(r) == len(REWARD_COLUMNS) for r in rows)
    assert [r[0] for r in rows] == ["exact_match", "regex", "length", "format", "no_repetition"]
    # the page sends the table back as a DataFrame (with blank cells as NaN)
    table = pd.DataFrame(rows, columns=REWARD_COLUMNS)
    back = form_to_config({**values, "reward_funcs": table})
    assert back.reward_funcs == cfg.reward_funcs
    # and through a saved config file
    text, err = config_yaml({**values, "reward_funcs": table})
    assert err is None
    import yaml

    assert parse_config(yaml.safe_load(text)).reward_funcs == cfg.reward_funcs
    # a new row has the reward's defaults; rows without a type are dropped; an unknown type is named
    assert rows_to_rewards([reward_row("format"), [""] * len(REWARD_COLUMNS)]) == [
        {"type": "format", "weight": 1.0}]
    with pytest.raises(Exception, match="row 1: 'python' is not a reward"):
        form_to_config({**values, "reward_funcs": [["python", 1.0]]})
    with pytest.raises(Exception, match="reward_funcs"):  # a regex row without a pattern
        form_to_config({**values, "reward_funcs": [reward_row("regex")]})
    # an empty table leaves the default (exact_match at training time)
    assert form_to_config({**values, "reward_funcs": pd.DataFrame(columns=REWARD_COLUMNS)}).reward_funcs == []


def test_strategy_metrics_frame_has_a_series_per_key_and_phase():
    v = RunView(run_id="r3", metric_keys=strategy_metric_keys("rlhf"))
    changed = v.feed([
        {"t": 1, "kind": "phase", "name": "reward", "index": 0, "total": 2},
        {"t": 1, "kind": "metrics", "step": 1, "loss": 0.7, "accuracy": 0.5, "phase": "reward"},
        {"t": 1, "kind": "metrics", "step": 2, "loss": 0.6, "accuracy": 0.75, "phase": "reward"},
        {"t": 1, "kind": "metrics", "step": 2, "eval_loss": 0.6, "eval_accuracy": 0.9, "phase": "reward"},
        {"t": 2, "kind": "phase", "name": "policy", "index": 1, "total": 2},
        {"t": 2, "kind": "metrics", "step": 1, "loss": 0.1, "reward": 0.2, "kl": 0.0, "phase": "policy"},
        {"t": 2, "kind": "metrics", "step": 2, "loss": 0.1, "reward": 0.4, "kl": 0.01, "phase": "policy",
         "rewards/margins": 9.0},  # not an RLHF key
    ])
    assert "plots" in changed
    f = v.strategy_frame()
    assert list(f.columns) == ["step", "value", "series"]
    assert f[f.series == "reward · accuracy"].value.tolist() == [0.5, 0.75]
    assert f[f.series == "reward · eval_accuracy"].value.tolist() == [0.9]
    assert f[f.series == "policy · reward"].value.tolist() == [0.2, 0.4]
    assert f[f.series == "policy · kl"].step.tolist() == [1, 2]
    assert not f.series.str.contains("margins").any()
    # a single-stage run: the plain keys
    d = RunView(run_id="r4", metric_keys=strategy_metric_keys("dpo"))
    d.feed([{"t": 1, "kind": "metrics", "step": s, "loss": 0.6, "rewards/margins": 0.1 * s,
             "rewards/accuracies": 0.5 + 0.1 * s, "phase": "train"} for s in (1, 2, 3)])
    g = d.strategy_frame()
    assert set(g.series) == {"rewards/margins", "rewards/accuracies"} and len(g) == 6
    # SFT has no metrics of its own
    s = RunView(run_id="r5", metric_keys=strategy_metric_keys("sft"))
    s.feed([{"t": 1, "kind": "metrics", "step": 1, "loss": 1.0, "reward": 1.0, "phase": "train"}])
    assert s.strategy_frame().empty


def test_phases_are_counted_from_one_in_the_log():
    view = RunView(run_id="r")
    view.feed([{"t": 0, "kind": "phase", "name": "reward", "index": 0, "total": 2},
               {"t": 1, "kind": "phase", "name": "policy", "index": 1, "total": 2}])
    lines = [line.split("  ", 1)[1] for line in view.log]
    assert lines == ["Phase 1/2: reward", "Phase 2/2: policy"]


def test_live_frames_hold_every_series_the_run_will_draw_from_the_start():
    """A streamed plot keeps the colours of the series in its first frame: every series a run will
    draw is in the frame (NaN, not drawn) from the first point; RLHF's per phase, lr included."""
    import math

    rec = {"strategy": "rlhf", "config": {"strategy": "rlhf", "eval_split": 0.1}}
    v = RunView(run_id="r6", metric_keys=strategy_metric_keys("rlhf"),
                      expected=expected_series(rec, "rlhf"))
    v.feed([{"t": 1, "kind": "phase", "name": "reward", "index": 0, "total": 2},
            {"t": 1, "kind": "metrics", "step": 1, "loss": 0.7, "accuracy": 0.5, "learning_rate": 1e-4,
             "phase": "reward"}])
    loss, lr, strat = v.loss_frame(), v.lr_frame(), v.strategy_frame()
    assert set(loss.series) == {"reward train loss", "reward eval loss", "policy train loss", "policy eval loss"}
    assert set(lr.series) == {"reward learning rate", "policy learning rate"}
    assert set(strat.series) == {"reward · accuracy", "reward · eval_accuracy", "policy · reward",
                                 "policy · reward_std", "policy · kl"}
    drawn = loss[loss.series == "reward train loss"].loss.tolist()
    assert drawn == [0.7] and all(math.isnan(x) for x in loss[loss.series != "reward train loss"].loss)
    # reusing a saved reward model: no reward phase; no eval split: no eval series
    rec = {"strategy": "rlhf", "config": {"strategy": "rlhf", "eval_split": 0, "reward_model": "r1"}}
    assert expected_series(rec, "rlhf") == {"loss": ("policy train loss",), "lr": ("policy learning rate",),
                                                  "strategy": ("policy · reward", "policy · reward_std",
                                                               "policy · kl")}
    assert expected_series({"config": {}}, "sft") == {"loss": ("train loss", "eval loss"),
                                                           "lr": ("learning rate",), "strategy": ()}


def test_progress_while_evaluating_says_what_and_keeps_the_clock():
    v = RunView(run_id="r-eval", status="running")
    v.feed([{"t": 0, "kind": "progress", "phase": "train", "step": 20, "max_steps": 20, "elapsed": 95.0, "eta": 30.0,
             "activity": "scoring answers", "done": 5, "total": 16}])
    assert v.progress_text() == "Scoring answers 5 / 16 · after step 20 / 20 · ETA 0:30 · elapsed 1:35"
    assert "**Evaluating**" in v.status_markdown()
    v.feed([{"t": 1, "kind": "result", "status": "completed", "metrics": {}, "output_dir": None, "error": None}])
    assert "Scoring" not in v.progress_text() and "**Completed**" in v.status_markdown()


def test_the_form_shows_the_runs_own_memory_estimate_and_its_disk():
    """DPO with LoRA: the form's estimate is the engine's (the reference is the base with the adapter
    off: no second copy of the weights), the figure the run's log prints; a full fine-tune's
    checkpoints hold the optimizer state, and the disk line says so."""
    from forge.config import resolve_defaults
    from forge.hardware import ModelShape, profile_defaults
    from forge.memory import estimate_run_memory
    from forge.strategies import get_strategy

    hw = hardware()
    values = form_defaults()
    values.update(model_name=EMBEDDED_MODEL, dataset="sample:pirate_persona", strategy="dpo", max_samples=None,
                  eval_steps=None, target_modules="", run_name="")
    text, warn = memory_estimate(values, hw)
    config = get_strategy("dpo").prepare_config(resolve_defaults(form_to_config(values), profile_defaults(hw)))
    shape = ModelShape.from_config(__import__("types").SimpleNamespace(**EMBEDDED_SHAPE))
    est = estimate_run_memory(config, shape, hw)
    assert f"≈ **{est.total_gb:.2f} GiB** peak" in text and f"weights {est.weights_gb:.2f}" in text
    assert "**Disk**: ≈" in text
    full, _ = memory_estimate({**values, "strategy": "sft", "lora_r": 0}, hw)
    small = float(text.split("**Disk**: ≈ ")[1].split(" GiB")[0])
    big = float(full.split("**Disk**: ≈ ")[1].split(" GiB")[0])
    assert big > 20 * small  # weights and Adam state in every checkpoint kept


def test_start_says_when_it_will_queue(live_run):
    from ui_server import wait_idle

    wait_idle()
    assert start_label() == "Start training"
    live_run("training-now")
    assert start_label() == "Queue after the current run"
    live_run("another")
    assert start_label() == "Queue after 2 runs"


def test_events_report_progress_on_few_components():
    """At each streamed update the page refreshes the loading status of every component an event
    has reported progress on, so events keep few targets: hidden-progress events one hidden element,
    the others their outputs that are not layout blocks (a layout block makes the page read all
    it holds, at every update)."""
    import gradio as gr
    from gradio.components import Component

    from forge.ui import build_app

    demo = build_app()
    quiet = [b for b in demo.blocks.values() if b.elem_id == "mf-quiet"]
    assert len(quiet) == 1 and not quiet[0].visible
    targets = set()
    for fn in demo.fns.values():
        assert fn.show_progress_on, fn.name
        assert all(isinstance(b, Component) for b in fn.show_progress_on), fn.name  # no layout block
        if fn.show_progress == "hidden":
            assert fn.show_progress_on == quiet, fn.name
        targets.update(b._id for b in fn.show_progress_on)
    in_events = {b._id for fn in demo.fns.values() for b in (*fn.inputs, *fn.outputs)}
    assert len(targets) < len(in_events) / 2, (len(targets), len(in_events))
    open_playground = next(fn for fn in demo.fns.values() if fn.name == "open_in_playground")
    assert not any(isinstance(b, gr.Tabs) for b in open_playground.show_progress_on)
