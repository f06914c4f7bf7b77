"""Runs in their own processes: a crash never takes the studio down, Stop is prompt, runs resume
where they were, and the store tells the truth after a restart. Real workers, real training of
the tiny model, real signals."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from forge.runs import get_store
from forge.training import get_queue, read_all


def wait_for(predicate, timeout: float = 120, poll: float = 0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out waiting")


def events(rec_or_id, kind=None):
    rec = rec_or_id if isinstance(rec_or_id, dict) else get_store().get_run(rec_or_id)
    return [e for e in read_all(rec["events_path"]) if kind is None or e["kind"] == kind]


def losses(run_id) -> dict[int, float]:
    """step → training loss, as the run's log (and so the page) has it at the end; a resumed run's
    later points replace the ones logged before it was cut off."""
    out: dict[int, float] = {}
    for e in events(run_id):
        if e["kind"] == "status" and isinstance(e.get("resume_step"), int):
            out = {s: v for s, v in out.items() if s <= e["resume_step"]}
        elif e["kind"] == "metrics" and "loss" in e and e.get("phase", "train") == "train":
            out[e["step"]] = e["loss"]
    return out


def checkpoint_written(run_id, at_least: int = 1):
    return any(e["step"] >= at_least for e in events(run_id, "checkpoint"))


@pytest.fixture
def steady(tiny_config):
    """A run whose loss is a deterministic function of the step: constant learning rate, no dropout,
    no held-out rows, a checkpoint every 5 steps."""

    def make(**overrides):
        cfg = tiny_config(lr_scheduler_type="constant", warmup_ratio=0.0, lora_dropout=0.0, eval_split=0.0,
                          save_steps=5, eval_samples=0, per_device_train_batch_size=2, max_seq_length=128,
                          save_total_limit=3)
        cfg.update(overrides)
        return cfg

    return make


def test_a_run_trains_in_its_own_process_and_the_server_stays_light(tiny_config):
    q = get_queue()
    rec = q.wait(q.submit(tiny_config(max_steps=4, run_name="own-process"))["id"], timeout=300)
    assert rec["status"] == "completed", rec.get("error")
    assert rec["worker_pid"] != os.getpid() and rec["pid"] != os.getpid()
    assert rec["supervisor_pid"] == os.getpid()
    assert (Path(rec["run_dir"]) / "worker.log").is_file()
    assert (Path(rec["run_dir"]) / "job.json").is_file()
    assert not (Path(rec["run_dir"]) / "model.partial").exists()
    whole = [c for c in (Path(rec["run_dir"]) / "checkpoints").iterdir() if (c / "COMPLETE").is_file()]
    assert whole, "checkpoints are marked whole once written"


def test_kill_9_mid_step_fails_with_the_cause_and_the_next_run_starts(steady):
    q = get_queue()
    doomed = q.submit(steady(max_steps=3000, run_name="killed-mid-step"))
    after = q.submit(steady(max_steps=3, run_name="after-the-crash", save_steps=None))
    assert q.position(after["id"]) == 1
    wait_for(lambda: checkpoint_written(doomed["id"]))
    pid = wait_for(lambda: get_store().get_run(doomed["id"]).get("worker_pid"))
    os.kill(pid, signal.SIGKILL)
    rec = q.wait(doomed["id"], timeout=60)
    assert rec["status"] == "failed"
    assert "killed (SIGKILL)" in rec["error"] and "out-of-memory killer" in rec["error"]
    assert "The last good checkpoint is checkpoint-" in rec["error"]
    result = events(rec, "result")[-1]
    assert result["status"] == "failed" and result["error"] == rec["error"]
    nxt = q.wait(after["id"], timeout=300)
    assert nxt["status"] == "completed", nxt.get("error")


def test_an_allocation_the_worker_cannot_hold_fails_the_run_not_the_server(tiny_config, tmp_path, monkeypatch):
    path = tmp_path / "long.jsonl"
    long_text = "the pirate sails on " * 6000  # 24k tokens: its logits alone need about 5 GiB
    path.write_text("\n".join(json.dumps({"instruction": f"Tell story {i}", "response": long_text})
                              for i in range(4)) + "\n")
    monkeypatch.setenv("MODELFORGE_WORKER_MEMORY_GB", "3")
    q = get_queue()
    rec = q.wait(q.submit(tiny_config(dataset=str(path), max_seq_length=32768, per_device_train_batch_size=1,
                                      max_steps=2, eval_split=0.0, max_samples=None))["id"], timeout=300)
    assert rec["status"] == "failed"
    assert "ran out of memory" in rec["error"] and "No checkpoint was saved" in rec["error"], rec["error"]
    assert rec["worker_pid"] != os.getpid()  # the allocation failed in the worker, not here
    assert events(rec, "result")[-1]["status"] == "failed"  # the stream ends with the failure


def test_stop_is_prompt_and_a_second_stop_is_immediate(steady):
    q = get_queue()
    gentle = q.submit(steady(max_steps=3000, run_name="stopped-gently"))
    wait_for(lambda: any(e.get("step") for e in events(gentle["id"], "progress")))
    t0 = time.time()
    assert q.stop(gentle["id"]) == "stopping"
    rec = q.wait(gentle["id"], timeout=120)
    assert rec["status"] == "stopped" and time.time() - t0 < 60
    assert Path(rec["output_dir"], "adapter_model.safetensors").is_file()  # what it learned is kept

    hard = q.submit(steady(max_steps=3000, run_name="stopped-now"))
    wait_for(lambda: checkpoint_written(hard["id"]))
    assert q.stop(hard["id"]) == "stopping"
    t0 = time.time()
    assert q.stop(hard["id"]) == "killed"  # the second press
    rec = q.wait(hard["id"], timeout=30)
    assert rec["status"] == "stopped" and time.time() - t0 < 10
    message = [e for e in events(rec, "status")][-1]["message"]
    assert "ended at once" in message or "processes were ended" in message
    assert "checkpoint-" in message and rec["error"] is None


def test_resume_after_kill_9_continues_the_curve_exactly(steady):
    q = get_queue()
    steps = 16  # checkpoints at 5, 10 and 15: the kill lands after the first
    straight = q.wait(q.submit(steady(max_steps=steps, run_name="never-interrupted"))["id"], timeout=300)
    assert straight["status"] == "completed", straight.get("error")

    cut = q.submit(steady(max_steps=steps, run_name="cut-then-resumed"))
    wait_for(lambda: checkpoint_written(cut["id"]))
    os.kill(wait_for(lambda: get_store().get_run(cut["id"]).get("worker_pid")), signal.SIGKILL)
    rec = q.wait(cut["id"], timeout=60)
    assert rec["status"] == "failed", "the kill came before the run ended"
    resumed = q.resume(cut["id"])
    step = int(Path(resumed["resume_from"]).name.split("-")[1])
    assert 5 <= step < steps
    with pytest.raises(Exception, match="cannot be resumed while it is active|already queued"):
        q.resume(cut["id"])  # two resumes of the same run
    rec = q.wait(cut["id"], timeout=300)
    assert rec["status"] == "completed", rec.get("error")
    a, b = losses(straight["id"]), losses(cut["id"])
    assert sorted(b) == list(range(1, steps + 1))
    for s in range(step + 1, steps + 1):
        assert abs(a[s] - b[s]) < 1e-4, (s, a[s], b[s])
    models = [m for m in get_store().list_models() if m.get("run_id") == cut["id"]]
    assert len(models) == 1 and Path(models[0]["path"], "adapter_model.safetensors").is_file()


def test_a_finished_run_trains_further(steady):
    q = get_queue()
    short = q.wait(q.submit(steady(max_steps=10, run_name="trained-further"))["id"], timeout=300)
    assert short["status"] == "completed", short.get("error")
    with pytest.raises(Exception, match="max_steps"):
        q.resume(short["id"])  # finished: more steps are needed
    with pytest.raises(Exception, match="max_steps: the run already trained 10 steps"):
        q.resume(short["id"], max_steps=10)
    with pytest.raises(Exception, match="model_name: a resumed run keeps its model"):
        q.resume(short["id"], model_name="another")
    rec = q.wait(q.resume(short["id"], max_steps=16)["id"], timeout=300)
    assert rec["status"] == "completed" and rec["config"]["max_steps"] == 16
    steps = losses(short["id"])
    assert sorted(steps) == list(range(1, 17))
    progress = events(short["id"], "progress")
    assert progress[-1]["step"] == 16 and progress[-1]["max_steps"] == 16
    models = [m for m in get_store().list_models() if m.get("run_id") == short["id"]]
    assert len(models) == 1, "the further-trained model replaces the first, not a second record"


def test_resume_needs_a_checkpoint(steady):
    q = get_queue()
    rec = q.submit(steady(max_steps=3000, save_steps=1000, run_name="no-checkpoint-yet"))
    wait_for(lambda: any(e.get("step") for e in events(rec["id"], "progress")))
    q.stop(rec["id"], now=True)
    rec = q.wait(rec["id"], timeout=30)
    assert rec["status"] == "stopped"
    with pytest.raises(Exception, match="has no whole checkpoint to resume from"):
        q.resume(rec["id"])
    with pytest.raises(Exception, match="There is no run 'nope'"):
        q.resume("nope")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_a_full_disk_fails_the_run_with_its_cause_and_frees_the_queue(tiny_model, tmp_path, monkeypatch):
    import subprocess

    small = tmp_path / "small-home"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(small)]).returncode:
        pytest.skip("this machine cannot mount a small filesystem")
    monkeypatch.setenv("MODELFORGE_HOME", str(small))
    q = get_queue()  # the queue of the small home
    try:
        rec = q.wait(q.submit(dict(model_name=str(tiny_model), dataset="sample:pirate_persona", lora_r=0,
                                   max_steps=20, save_steps=2, per_device_train_batch_size=2, max_seq_length=64,
                                   max_samples=20, eval_split=0.0, eval_samples=0, run_name="full-disk"))["id"],
                     timeout=300)
        assert rec["status"] == "failed"
        assert "No space left on device" in rec["error"] and "disk is full" in rec["error"], rec["error"]
        assert q.stop(rec["id"]) == "not active (status: failed)"
        for line in Path(rec["events_path"]).read_text().splitlines():
            json.loads(line)  # no torn line
        assert not [c for c in (Path(rec["run_dir"]) / "checkpoints").glob("checkpoint-*")
                    if not (c / "COMPLETE").exists()], "the checkpoint cut off by the full disk is gone"
        nxt = q.wait(q.submit(dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=2,
                                   per_device_train_batch_size=2, max_seq_length=64, max_samples=20, eval_split=0.0,
                                   eval_samples=0, lora_r=4, save_steps=1000, run_name="after-full-disk"))["id"],
                     timeout=300)
        assert nxt["status"] == "completed", nxt.get("error")
    finally:
        q.close()
        subprocess.run(["umount", "-l", str(small)])


def test_runs_are_forked_by_one_standby_that_imports_once(steady, monkeypatch):
    """Runs in a row are forked by the same standby process (the training libraries are imported
    once), each in its own session; the standby records each one's pid and exit status. A worker
    environment that changed retires the standby: that run gets a new process, and a new standby
    starts under the new environment; where forking is off, it is the worker of the one run it is given."""
    from forge.training.worker import EXIT_FILE, PID_FILE, read_numbers

    q = get_queue()
    standby = wait_for(lambda: q.standby_pid, timeout=60)
    for i in range(2):
        rec = q.wait(q.submit(steady(max_steps=2, run_name=f"forked-{i}"))["id"], timeout=300)
        assert rec["status"] == "completed", rec.get("error")
        pid, code = wait_for(lambda: read_numbers(rec["run_dir"], EXIT_FILE), timeout=30)  # noqa: B023
        assert (pid, code) == (rec["worker_pid"], 0) and read_numbers(rec["run_dir"], PID_FILE) == [pid]
        assert pid != standby and q.standby_pid == standby
    assert "Model loaded in" in "".join(e.get("message", "") for e in events(rec, "log"))

    # a changed environment (here: forking switched off, as on a GPU machine) retires the standby: that
    # run gets its own new process, and the standby started after it runs the one run it is given
    monkeypatch.setenv("MODELFORGE_WORKER_SETTING", "changed")
    monkeypatch.setenv("MODELFORGE_STANDBY_FORK", "0")
    rec = q.wait(q.submit(steady(max_steps=2, run_name="fresh-env"))["id"], timeout=300)
    assert rec["status"] == "completed", rec.get("error")
    assert not (Path(rec["run_dir"]) / PID_FILE).exists()  # its own new process, not a fork
    single = wait_for(lambda: q.standby_pid, timeout=60)
    assert single != standby
    rec = q.wait(q.submit(steady(max_steps=2, run_name="standby-itself"))["id"], timeout=300)
    assert rec["status"] == "completed", rec.get("error")
    assert rec["worker_pid"] == single and not (Path(rec["run_dir"]) / PID_FILE).exists()
    assert Path(rec["run_dir"], "worker.log").stat().st_size > 0  # its output went to the run's log
