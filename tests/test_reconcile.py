"""The store tells the truth at start-up: each of the eight moments a server (and its worker) can
be killed at leaves a run folder in a known state; reconciling it gives the right status, removes
what was cut off mid-write, and reports the space freed. Fast: the folders are laid out as a kill
at that moment leaves them (the real kills are in test_workers.py and test_workers_server.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forge.runs import RunStore
from forge.training import checkpoints
from forge.training.events import EventLog, read_all
from forge.training.queue import JobQueue, reconcile


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def checkpoint(folder: Path, step: int, whole: bool = True) -> Path:
    c = folder / "checkpoints" / f"checkpoint-{step}"
    c.mkdir(parents=True)
    (c / "config.json").write_text("{}")
    if whole:
        (c / "adapter_model.safetensors").write_bytes(b"\0" * 4096)
        checkpoints.mark_complete(c)
    return c


def lay_out(store: RunStore, tmp_path: Path, moment: str) -> dict:
    """A run killed at ``moment``, with its worker dead."""
    folder = tmp_path / "runs" / moment
    log = EventLog(folder / "events.jsonl")
    log.emit("status", status="queued", message="Queued: starts now.")
    log.emit("status", status="running", message="Run started")
    rec = store.create_run({"id": moment, "name": moment, "status": "running", "run_dir": str(folder),
                            "events_path": str(folder / "events.jsonl"), "pid": dead_pid(),
                            "supervisor_pid": dead_pid(), "config": {}, "config_set": []})
    steps = {"reading data": [], "loading the model": [], "converting the embedded model": [],
             "mid-training": ["ckpt5"], "checkpoint save": ["ckpt5", "partial10"], "final save": ["ckpt5", "model"],
             "end-of-run evaluation": ["ckpt5"], "after completion": ["ckpt5", "done"]}[moment]
    if moment == "converting the embedded model":
        from forge.settings import get_settings

        cut = get_settings().cache_dir / "embedded" / f"SmolLM2-135M-Instruct.tmp{dead_pid()}"
        cut.mkdir(parents=True)
        (cut / "model.safetensors").write_bytes(b"\0" * 1024)
        rec["cut_conversion"] = str(cut)
    if "ckpt5" in steps:
        log.emit("metrics", step=5, loss=1.0)
        checkpoint(folder, 5)
    if "partial10" in steps:
        checkpoint(folder, 10, whole=False)
    if "model" in steps:
        (folder / "model.partial").mkdir()
        (folder / "model.partial" / "config.json").write_text("{}" * 1000)
    if "done" in steps:
        (folder / "model").mkdir()
        store.add_model({"name": moment, "run_id": moment, "kind": "adapter", "path": str(folder / "model")})
        log.emit("status", status="completed", message="Run completed.")
        log.emit("result", status="completed", metrics={"loss": 1.0}, output_dir=str(folder / "model"), error=None)
    return rec


MOMENTS = ["reading data", "loading the model", "converting the embedded model", "mid-training",
           "checkpoint save", "final save", "end-of-run evaluation", "after completion"]


@pytest.mark.parametrize("moment", MOMENTS)
def test_each_kill_moment_is_reconciled(tmp_path, moment):
    store = RunStore(tmp_path / "runs.json")
    rec = lay_out(store, tmp_path, moment)
    folder = Path(rec["run_dir"])
    report = reconcile(store)
    after = store.get_run(rec["id"])
    if moment == "after completion":
        assert after["status"] == "completed" and report["recovered"] == [rec["id"]]
        assert [m["run_id"] for m in store.list_models()] == [rec["id"]]
        assert [e["status"] for e in read_all(folder / "events.jsonl") if e["kind"] == "result"] == ["completed"]
        return
    assert after["status"] == "interrupted" and report["interrupted"] == [rec["id"]]
    result = [e for e in read_all(folder / "events.jsonl") if e["kind"] == "result"][-1]
    assert result["status"] == "interrupted"
    if moment in ("reading data", "loading the model", "converting the embedded model"):
        assert "No checkpoint was saved" in after["error"]
    else:
        assert "checkpoint-5 (step 5)" in after["error"], after["error"]
        assert checkpoints.latest(folder / "checkpoints").name == "checkpoint-5"
    if moment == "checkpoint save":
        assert not (folder / "checkpoints" / "checkpoint-10").exists()
        assert str(folder / "checkpoints" / "checkpoint-10") in report["removed"]
    if moment == "converting the embedded model":
        assert not Path(rec["cut_conversion"]).exists() and rec["cut_conversion"] in report["removed"]
    if moment == "final save":
        assert not (folder / "model.partial").exists() and report["freed_bytes"] >= 2000
    assert reconcile(store)["interrupted"] == []  # a second start finds nothing more


def test_a_live_worker_stays_running_and_a_stale_temp_file_goes(tmp_path):
    store = RunStore(tmp_path / "runs.json")
    folder = tmp_path / "runs" / "live"
    # a process whose command line is this run's worker's
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "forge.training.worker",
                               str(folder)])
    try:
        store.create_run({"id": "live", "name": "live", "status": "running", "run_dir": str(folder),
                          "events_path": str(folder / "events.jsonl"), "pid": worker.pid,
                          "supervisor_pid": dead_pid()})
        stale = tmp_path / f".runs.json.{dead_pid()}.1.tmp"
        stale.write_text("{")
        report = reconcile(store)
        assert store.get_run("live")["status"] == "running"
        assert not stale.exists() and str(stale) in report["removed"]
    finally:
        worker.kill()
        worker.wait()
    # a pid reused by another program is not the run's worker
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        store.update_run("live", pid=other.pid)
        reconcile(store)
        assert store.get_run("live")["status"] == "interrupted"
    finally:
        other.kill()
        other.wait()


def test_a_torn_last_line_is_cut_before_the_next_event(tmp_path):
    path = tmp_path / "events.jsonl"
    EventLog(path).emit("log", message="whole")
    with open(path, "a") as f:
        f.write('{"t": 1, "kind": "log", "message": "cut off at 40')
    EventLog(path).emit("status", status="failed", message="after")
    events = read_all(path)
    assert [e.get("message") for e in events] == ["whole", "after"]
    assert path.read_text().count("\n") == 2


def test_bad_launch_settings_are_refused_before_any_record(tmp_path):
    from forge.config import parse_config
    from forge.errors import ConfigError
    from forge.hardware import GPU, Hardware
    from forge.training import launch

    cpu = Hardware("cpu", 2, 24.0)
    gpus = Hardware("cpu", 16, 128.0, (GPU(0, "H100", 80.0, True), GPU(1, "H100", 80.0, True)))
    cases = [
        (dict(num_processes=3), cpu, "num_processes: 3 processes were asked for, but this machine has no GPU and 2"),
        (dict(num_processes=4), gpus, "this machine has 2 GPU(s)"),
        (dict(distributed="fsdp"), cpu, "distributed: fsdp shards the model across GPUs"),
        (dict(distributed="fsdp", use_4bit=True, lora_r=8), gpus, "FSDP cannot shard a 4-bit"),
        (dict(distributed="deepspeed_zero3"), gpus, "needs DeepSpeed, which is not installed"),
    ]
    for fields, hw, words in cases:
        with pytest.raises(ConfigError) as e:
            launch.resolve(parse_config(fields), hw=hw)
        assert words in str(e.value), str(e.value)
    with pytest.raises(ConfigError, match="main_process_ip"):
        launch.resolve(parse_config({}), {"num_machines": 2, "machine_rank": 1}, hw=gpus)
    with pytest.raises(ConfigError, match="machine_rank: 2 is not between 0"):
        launch.resolve(parse_config({}), {"num_machines": 2, "machine_rank": 2, "main_process_ip": "10.0.0.1"}, hw=gpus)

    store = RunStore(tmp_path / "runs.json")
    with pytest.raises(ConfigError):
        JobQueue(store).submit({"num_processes": 64})
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        JobQueue(store).submit({"strategy": "nope"})
    assert store.list_runs() == []  # refused before any record exists


def test_launch_commands_use_accelerate(tmp_path):
    from forge.config import parse_config
    from forge.hardware import GPU, Hardware
    from forge.training import launch

    gpus = Hardware("cpu", 16, 128.0, tuple(GPU(i, "H100", 80.0, True) for i in range(8)))
    assert launch.command(tmp_path, launch.resolve(parse_config({}), hw=Hardware("cpu", 2, 24.0)))[1:] == \
        ["-m", "forge.training.worker", str(tmp_path)]
    plan = launch.resolve(parse_config({}), {"num_machines": 2, "machine_rank": 1, "main_process_ip": "10.0.0.1"},
                          hw=gpus)
    cmd = launch.command(tmp_path, plan)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in cmd
    assert cmd[cmd.index("--num_processes") + 1] == "16" and cmd[cmd.index("--machine_rank") + 1] == "1"
    assert cmd[cmd.index("--main_process_ip") + 1] == "10.0.0.1"
    assert cmd[-3:] == ["-m", "forge.training.worker", str(tmp_path)]
    fsdp = launch.command(tmp_path, launch.resolve(parse_config({"distributed": "fsdp"}), hw=gpus))
    assert "--use_fsdp" in fsdp and fsdp[fsdp.index("--num_processes") + 1] == "8"
    cfg_file = tmp_path / "accelerate.yaml"
    cfg_file.write_text("distributed_type: MULTI_GPU\n")
    own = launch.command(tmp_path, launch.resolve(parse_config({}), {"accelerate_config": str(cfg_file)}, hw=gpus))
    assert own[3:5] == ["--config_file", str(cfg_file)] and "--multi_gpu" not in own
    assert launch.describe(plan) == "8 processes · ddp on GPU · machine 1 of 2"


def test_memory_estimate_counts_processes_and_sharding():
    from forge.hardware import Hardware, ModelShape, estimate_memory

    shape = ModelShape(n_params=1_000_000_000, hidden_size=2048, num_layers=24, vocab_size=32000)
    hw = Hardware("cpu", 2, 1000.0)
    one = estimate_memory(shape, lora_r=0, hw=hw)
    ddp = estimate_memory(shape, lora_r=0, hw=hw, num_processes=4, distributed="ddp")
    zero2 = estimate_memory(shape, lora_r=0, hw=hw, num_processes=4, distributed="deepspeed_zero2")
    fsdp = estimate_memory(shape, lora_r=0, hw=hw, num_processes=4, distributed="fsdp")
    assert ddp.total_gb == pytest.approx(one.total_gb)
    assert zero2.weights_gb == one.weights_gb and zero2.optimizer_gb == pytest.approx(one.optimizer_gb / 4)
    assert fsdp.weights_gb == pytest.approx(one.weights_gb / 4) and fsdp.total_gb < zero2.total_gb < one.total_gb
