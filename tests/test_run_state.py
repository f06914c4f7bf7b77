"""The engine's one reader of a run's event log (forge.training.state.RunState), the run history
(forge.history) that the API and the CLI both serve, and the memory estimate as the strategies
declare it: a real run of the tiny model folded whole and by offset, without a server."""

from __future__ import annotations

import io
import json

import pytest

from forge.training.state import RunState, clock
from forge.ui.run_view import RunView, run_detail
from forge.ui.tables import history_rows


@pytest.fixture(scope="module")
def finished_run(tiny_model):
    from forge.training import get_queue

    q = get_queue()
    rec = q.wait(q.submit(dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=6,
                               per_device_train_batch_size=2, max_seq_length=128, learning_rate=5e-3,
                               max_samples=40, eval_split=0.1, eval_steps=3, eval_samples=0, logging_steps=1,
                               run_name="state-run"))["id"], timeout=600)
    assert rec["status"] == "completed", rec.get("error")
    return rec


def test_a_real_runs_events_fold_into_its_state(finished_run, tmp_path):
    from forge.training.events import read_all

    state = RunState.load(finished_run)
    assert state.finished and state.status == "completed" and state.error is None
    loss = state.series("loss")
    assert [s for s, _ in loss["train loss"]] == [1, 2, 3, 4, 5, 6]
    assert loss["eval loss"] and all(v > 0 for _, v in loss["eval loss"])
    assert [s for s, _ in state.series("lr")["learning rate"]] == [1, 2, 3, 4, 5, 6]
    assert state.progress["step"] == state.progress["max_steps"] == 6 and state.progress_fraction() == 1.0
    assert "train_loss" in state.final_metrics() and state.update()["loss"] == loss["train loss"][-1][1]
    assert any("[completed]" in line for line in state.log) and state.log_count >= len(state.log)
    history = state.history()
    assert [p[0] for p in history["loss"]] == [1, 2, 3, 4, 5, 6] and history["eval_loss"] and history["learning_rate"]

    # read by offset as the log grows (a torn last line waits for its end), it folds to the same state
    raw = open(finished_run["events_path"], "rb").read()
    grown = tmp_path / "events.jsonl"
    partial = RunState.for_record(finished_run)
    for cut in (len(raw) // 3, len(raw) // 3 + 1, 2 * len(raw) // 3, len(raw)):
        grown.write_bytes(raw[:cut])
        partial.read_more(grown)
        assert partial.offset == raw.rfind(b"\n", 0, cut) + 1
    assert partial.series("loss") == loss and partial.series("lr") == state.series("lr")
    assert partial.final_metrics() == state.final_metrics() and list(partial.log) == list(state.log)
    assert len(read_all(finished_run["events_path"])) > 12


def test_history_is_one_engine_function_for_the_api_and_the_cli(finished_run, capsys):
    from forge import cli, history

    detail = history.run_detail(finished_run["id"])
    assert detail["status"] == "completed" and detail["history"] == detail["_state"].history()
    page = run_detail(finished_run["id"])  # what the API's /run_detail serves (its state as a RunView)
    assert history.public(page) == history.public(detail) and isinstance(page["_view"], RunView)
    assert cli.main(["show", finished_run["id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["history"] == json.loads(json.dumps(detail["history"])) and shown["config"]["max_steps"] == 6
    assert cli.main(["runs"]) == 0
    listing = capsys.readouterr().out
    row = next(r for r in history.history_table() if r["id"] == finished_run["id"])
    assert row["name"] == "state-run" and row["model"] == "tiny-llama" and f"{row['final_loss']:.4f}" in listing
    assert [history_rows()[i][-1] for i in range(len(history.history_table()))] == \
        [r["id"] for r in history.history_table()]
    assert history.reusable_config(finished_run["id"])["run_name"] == "state-run"


def test_the_handler_table_folds_each_kind_and_rewinds_on_resume():
    s = RunState(run_id="r")
    s.feed([{"t": 1, "kind": "status", "status": "running", "message": "Run started"},
            {"t": 2, "kind": "phase", "name": "reward", "index": 0, "total": 2},
            {"t": 3, "kind": "metrics", "step": 1, "loss": 2.0, "phase": "reward"},
            {"t": 4, "kind": "metrics", "step": 2, "loss": 1.5, "learning_rate": 1e-3, "phase": "train"},
            {"t": 5, "kind": "checkpoint", "step": 2},
            {"t": 6, "kind": "something new", "x": 1},  # an unknown kind is skipped
            {"t": 7, "kind": "result", "status": "stopped", "metrics": {"loss": 1.5}}])
    assert s.series("loss") == {"reward train loss": [(1, 2.0)], "train loss": [(2, 1.5)]}
    assert s.finished and s.checkpoints == [2] and s.step_metrics["step"] == 2
    seen = s.log_count
    changed = s.feed([{"t": 8, "kind": "status", "status": "queued", "message": "Resuming", "resume_step": 1}])
    assert changed == {"status", "log", "plots"} and not s.finished and s.result is None
    assert s.series("loss") == {"reward train loss": [(1, 2.0)]} and len(s.new_log_lines(seen)) == 1
    assert clock(75) == "1:15" and clock(3725) == "1:02:05" and clock(None) == "–"


def test_the_cli_prints_the_state_a_bar_then_lines():
    from forge import cli

    out = io.StringIO()
    state = RunState(run_id="r")
    bar = cli._print_events(state, [
        {"t": 1, "kind": "status", "status": "running", "message": "Run started"},
        {"t": 2, "kind": "progress", "step": 1, "max_steps": 2, "epoch": 0.5, "eta": 3, "tokens_per_second": 10},
        {"t": 3, "kind": "metrics", "step": 1, "loss": 2.5, "learning_rate": 0.001},
        {"t": 4, "kind": "progress", "step": 2, "max_steps": 2, "epoch": 1.0, "eta": 0, "tokens_per_second": 10},
    ], False, out)
    text = out.getvalue()
    assert bar and "[running] Run started\n" in text and "1/2" in text and "\nstep 1: loss 2.5, learning_rate 0.001\n" in text
    assert text.endswith("2/2 epoch 1.00 · ETA 0:00 · 10 tok/s")


def test_a_strategy_declares_its_reference_model_for_the_estimate(monkeypatch):
    from forge.config import RunConfig
    from forge.hardware import ModelShape, detect
    from forge.memory import estimate_run_memory
    from forge.strategies import STRATEGIES
    from forge.strategies.sft import SFTStrategy

    hw = detect()
    shape = ModelShape(n_params=135_000_000, hidden_size=576, num_layers=30, vocab_size=49152)
    full = dict(lora_r=0, per_device_train_batch_size=1, max_seq_length=128)
    sft = estimate_run_memory(RunConfig(strategy="sft", **full), shape, hw)
    dpo = estimate_run_memory(RunConfig(strategy="dpo", **full), shape, hw)
    assert dpo.weights_gb > sft.weights_gb  # the frozen reference copy

    class WithReference(SFTStrategy):
        name = "toyref"
        reference_model = True

    monkeypatch.setitem(STRATEGIES, "toyref", WithReference)
    toy = RunConfig.model_construct(**{**RunConfig(**full).model_dump(), "strategy": "toyref"})
    assert estimate_run_memory(toy, shape, hw).weights_gb == dpo.weights_gb
    lora = estimate_run_memory(RunConfig(strategy="dpo", lora_r=8), shape, hw)  # with LoRA the reference is free
    assert lora.weights_gb == estimate_run_memory(RunConfig(strategy="sft", lora_r=8), shape, hw).weights_gb
