"""The studio as users run it (``python app.py``), driven with gradio_client: training outlives the
server, a restarted server finds the live worker and can stop it, and a run on two processes
(Accelerate's launcher, gloo on the CPU) streams live and matches the same run on one process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client

from forge.runs import RunStore
from forge.training import read_all
from ui_server import free_port

ROOT = Path(__file__).resolve().parents[1]


class App:
    """``python app.py`` on a free port with its own home; ``kill()`` is kill -9."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        env = {**os.environ, "MODELFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        self.log = open(home / f"app-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port)], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.time() + 120
        while "is running on" not in self.output():
            assert self.proc.poll() is None and time.time() < deadline, self.output()
            time.sleep(0.3)
        self.client = Client(self.url, verbose=False)

    def output(self) -> str:
        return (self.home / f"app-{self.port}.log").read_text()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


@pytest.fixture
def home(tmp_path, tiny_model):
    """A fresh studio home holding a copy of the tiny model."""
    h = tmp_path / "home"
    shutil.copytree(tiny_model, h / "models" / "tiny-llama")
    return h


def config(home: Path, **overrides):
    cfg = dict(model_name=str(home / "models" / "tiny-llama"), dataset="sample:pirate_persona", max_steps=8,
               per_device_train_batch_size=4, max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=5e-3,
               max_samples=60, eval_split=0.0, logging_steps=1, warmup_ratio=0.0, lora_dropout=0.0,
               lr_scheduler_type="constant", eval_samples=0)
    cfg.update(overrides)
    return cfg


def store(home: Path) -> RunStore:
    return RunStore(home / "runs.json")


def alive(pid: int) -> bool:
    from forge.training.queue import _alive

    return _alive(pid)


def ends(pid: int, timeout: float = 20) -> bool:
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    return not alive(pid)


def test_training_outlives_the_server_and_a_restarted_server_stops_it(home):
    app = App(home)
    try:
        job = app.client.submit(config(home, max_steps=100000, save_steps=5, run_name="outlives"), None,
                                api_name="/train")
        run_id = None
        for update in job:  # the page's stream, until the run trains
            run_id = update["run_id"]
            if update["status"] == "running" and update["step"]:
                break
        job.cancel()  # no client follows the run any more
        app.kill()  # kill -9 the server
    finally:
        app.close()
    rec = store(home).get_run(run_id)
    assert rec["status"] == "running" and alive(rec["worker_pid"])
    step = max(e.get("step", 0) for e in read_all(rec["events_path"]) if e["kind"] == "progress")
    deadline = time.time() + 60
    while max(e.get("step", 0) for e in read_all(rec["events_path"]) if e["kind"] == "progress") < step + 5:
        assert time.time() < deadline, "the worker goes on training with no server"
        time.sleep(0.2)

    again = App(home)
    try:
        assert f"run(s) active or queued from before: {run_id}" in again.output()
        runs = {r["id"]: r for r in again.client.predict(api_name="/runs")}
        assert runs[run_id]["status"] == "running"
        follow = again.client.submit(run_id, api_name="/follow")
        seen = []
        for update in follow:  # live again on the restarted server
            seen.append(update["step"])
            if len([s for s in seen if s]) >= 2:
                break
        follow.cancel()
        assert seen[-1] > step
        assert again.client.predict(run_id, False, api_name="/stop")["result"] == "stopping"
        deadline = time.time() + 60
        while store(home).get_run(run_id)["status"] == "running":
            assert time.time() < deadline
            time.sleep(0.3)
        rec = store(home).get_run(run_id)
        assert rec["status"] == "stopped" and Path(rec["output_dir"]).is_dir()
        assert ends(rec["worker_pid"])
        detail = again.client.predict(run_id, api_name="/run")
        assert detail["checkpoints"] and detail["checkpoints"][-1]["size_bytes"] > 0
        assert detail["resumable"]
    finally:
        again.close()


def test_two_processes_match_one_and_stream_live(home):
    app = App(home)
    try:
        # the launcher starts its own processes, so the two-process run goes first, while the server's
        # standby worker is still starting; the one-process run then needs no wait
        two = list(app.client.submit(config(home, run_name="two-processes", per_device_train_batch_size=2,
                                            num_processes=2), None, api_name="/train"))
        final = two[-1]
        assert final["status"] == "completed", final
        one = list(app.client.submit(config(home, run_name="one-process", per_device_train_batch_size=4), None,
                                     api_name="/train"))
        assert one[-1]["status"] == "completed", one[-1]
        live = [u["step"] for u in two if u["status"] == "running" and u["step"]]
        assert len(live) >= 2 and live == sorted(live), "the page streams the two-process run as it trains"
        detail = app.client.predict(final["run_id"], api_name="/run")
        assert detail["devices"] == "2 processes · ddp on CPU"
        a = {s: v for s, v in app.client.predict(one[-1]["run_id"], api_name="/run")["history"]["loss"]}
        b = {s: v for s, v in detail["history"]["loss"]}
        assert sorted(a) == sorted(b) == list(range(1, 9))
        for s in a:
            assert abs(a[s] - b[s]) < 1e-3, (s, a[s], b[s])
        path = store(home).get_run(final["run_id"])["events_path"]
        logged = [e for e in read_all(path) if e["kind"] == "metrics"]
        assert any(len(e.get("process_memory_gb") or []) == 2 for e in logged), "memory of each process"
        started = [e["message"] for e in read_all(path) if e["kind"] == "log"]
        assert any("accelerate launch" in m for m in started)
        # the saved adapter loads and answers in the Playground
        model = next(m for m in app.client.predict(api_name="/models") if m.get("run_id") == final["run_id"])
        app.client.predict(model["id"], api_name="/load_model")
        answer = app.client.predict(model["id"], "Ahoy?", None, {"max_new_tokens": 5, "temperature": 0},
                                    api_name="/generate")
        assert isinstance(answer, str)
    finally:
        app.close()
