"""Runs in their own processes: what it costs and how promptly they answer.

    python bench/launcher.py [--steps 12]

Prints, all measured in this one run on the tiny model:
  worker start      seconds from the submit to the first loss point: the Job inside this process
                    (the old design, libraries already imported) against a new worker process
                    (cold) and the worker kept in standby; the differences are the start-up cost
  back to back      three runs in a row, each submitted as the last ends: mean seconds to the
                    first loss point and CPU seconds the machine spent per run, new worker
                    processes against workers forked by the standby (which imports once)
  2 vs 1 process    largest |loss| difference at every logged step between the same run on two
                    CPU processes (accelerate launch, gloo) and on one, same global batch
                    (goal <= 1e-3)
  stop latency      seconds from Stop to ``stopped``: graceful (at the next step) and immediate
                    (second Stop: the process group ends)
  server memory     resident memory of ``python app.py`` after a first run (its hardware probe
                    imports torch once) and after three more through its API (goal: growth <= 50 MB)
  unattended run    training time of a run no client follows, against the followed ones
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTINGS = dict(dataset="sample:pirate_persona", per_device_train_batch_size=4, max_seq_length=128, lora_r=8,
                lora_alpha=16, lora_dropout=0.0, learning_rate=5e-3, warmup_ratio=0.0, eval_split=0.0, seed=42,
                logging_steps=1, lr_scheduler_type="constant", eval_samples=0, max_samples=60)


def first_loss_after(events: list[dict], since: float) -> float:
    return next(e["t"] for e in events if e["kind"] == "metrics" and "loss" in e) - since


def in_process(model: str, steps: int) -> float:
    """The old design: the Job in this process, the training libraries already imported."""
    import peft  # noqa: F401
    import trl  # noqa: F401

    from forge.config import parse_config
    from forge.runs import get_store
    from forge.training import read_all
    from forge.training.job import Job, run_dir

    store = get_store()
    rec = store.create_run({"name": "in-process", "config": {}, "run_dir": str(run_dir("in-process"))})
    t0 = time.time()
    Job(rec["id"], parse_config({**SETTINGS, "model_name": model, "max_steps": steps}), store).run()
    return first_loss_after(read_all(run_dir(rec["id"]) / "events.jsonl"), t0)


def through_queue(q, model: str, **overrides) -> tuple[dict, float]:
    from forge.training import read_all

    t0 = time.time()
    rec = q.wait(q.submit({**SETTINGS, "model_name": model, **overrides})["id"])
    assert rec["status"] == "completed", rec.get("error")
    return rec, first_loss_after(read_all(rec["events_path"]), t0)


def losses(rec: dict) -> dict[int, float]:
    from forge.training import read_all

    return {e["step"]: e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e}


def cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far (every process, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def back_to_back(q, model: str, steps: int, n: int = 3) -> tuple[float, float]:
    """Mean seconds to the first loss point and machine CPU seconds per run, over ``n`` runs in a row."""
    cpu0, firsts = cpu_seconds(), []
    for _ in range(n):
        firsts.append(through_queue(q, model, max_steps=steps)[1])
    return sum(firsts) / n, (cpu_seconds() - cpu0) / n


def stop_latency(q, model: str, now: bool) -> float:
    from forge.training import read_all

    rec = q.submit({**SETTINGS, "model_name": model, "max_steps": 100000, "save_steps": 5})
    while not any(e["kind"] == "checkpoint" for e in read_all(rec["events_path"])):
        time.sleep(0.05)
    t0 = time.time()
    q.stop(rec["id"])
    if now:
        q.stop(rec["id"])
    final = q.wait(rec["id"])
    assert final["status"] == "stopped", final
    return time.time() - t0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server_memory(model_dir: str, steps: int) -> tuple[float, float, float, float]:
    """RSS of ``python app.py`` after it served the page's data once, and after three runs followed
    through its API; and the training time of a fourth run nobody follows, against theirs."""
    from gradio_client import Client

    from forge.runs import RunStore

    home = Path(tempfile.mkdtemp(prefix="forge-bench-server-"))
    shutil.copytree(model_dir, home / "models" / "tiny")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(home / "app.log", "w")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, env={**os.environ, "MODELFORGE_HOME": str(home)})
    try:
        while "is running on" not in (home / "app.log").read_text():
            time.sleep(0.3)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(api_name="/runs")
        idle = rss_mb(app.pid)
        cfg = {**SETTINGS, "model_name": str(home / "models" / "tiny"), "max_steps": steps}
        # the first submit probes the hardware once (it imports torch, as the page's first load does)
        assert list(client.submit({**cfg, "run_name": "warm-up"}, None, api_name="/train"))[-1]["status"] == "completed"
        time.sleep(1)
        before = rss_mb(app.pid)
        followed = []
        for i in range(3):
            updates = list(client.submit({**cfg, "run_name": f"bench-{i}"}, None, api_name="/train"))
            assert updates[-1]["status"] == "completed", updates[-1]
            followed.append(updates[-1]["metrics"]["train_runtime"])
        time.sleep(1)
        after = rss_mb(app.pid)
        job = client.submit({**cfg, "run_name": "unattended"}, None, api_name="/train")
        next(iter(job))  # the run is queued
        job.cancel()  # no page and no client follows it from here
        store = RunStore(home / "runs.json")
        run = next(r for r in store.list_runs() if r["name"] == "unattended")
        while store.get_run(run["id"])["status"] in ("queued", "running"):
            time.sleep(0.5)
        alone = store.get_run(run["id"])["metrics"]["train_runtime"]
        return idle, before, after, alone / (sum(followed) / len(followed))
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    a = ap.parse_args()
    home = os.environ.get("MODELFORGE_HOME") or tempfile.mkdtemp(prefix="forge-bench-")
    os.environ.update(MODELFORGE_HOME=home, HF_HUB_OFFLINE="1", MODELFORGE_DISABLE_TENSORBOARD="1")
    from forge.settings import get_settings
    from forge.tiny import build_tiny_model
    from forge.training.queue import JobQueue

    model = str(build_tiny_model(get_settings().models_dir / "bench-tiny"))
    old = in_process(model, a.steps)
    os.environ["MODELFORGE_STANDBY_WORKER"] = "0"
    cold_q = JobQueue()
    one, cold = through_queue(cold_q, model, max_steps=a.steps)
    two, _ = through_queue(cold_q, model, max_steps=a.steps, per_device_train_batch_size=2, num_processes=2)
    cold_first, cold_cpu = back_to_back(cold_q, model, a.steps)
    cold_q.close()
    os.environ["MODELFORGE_STANDBY_WORKER"] = "1"
    warm_q = JobQueue()
    warm_q.kick()
    time.sleep(20)  # the standby worker imports the training libraries while nothing trains
    _, warm = through_queue(warm_q, model, max_steps=a.steps)
    warm_first, warm_cpu = back_to_back(warm_q, model, a.steps)
    graceful = stop_latency(warm_q, model, now=False)
    immediate = stop_latency(warm_q, model, now=True)
    warm_q.close()
    l1, l2 = losses(one), losses(two)
    diff = max(abs(l1[s] - l2[s]) for s in l1)
    idle, before, after, unattended = server_memory(model, a.steps)

    print(f"tiny model, {a.steps} steps, CPU ({os.cpu_count()} cores)")
    print(f"first loss point after submit: in-process Job {old:.2f} s · new worker {cold:.2f} s "
          f"(start-up +{cold - old:.2f} s) · standby worker {warm:.2f} s (+{warm - old:.2f} s)")
    print(f"3 runs back to back: first loss after {cold_first:.2f} s and {cold_cpu:.1f} CPU s per run with new "
          f"worker processes · {warm_first:.2f} s and {warm_cpu:.1f} CPU s forked by the standby "
          f"({cold_cpu / warm_cpu:.1f}x less CPU)")
    print(f"2 processes vs 1 (same global batch): {len(l1)} steps, largest loss difference {diff:.1e} (goal <= 1e-3)")
    print(f"Stop -> stopped: graceful {graceful:.2f} s · immediate (second Stop) {immediate:.2f} s")
    print(f"server memory (python app.py): {idle:.0f} MB idle, {before:.0f} MB after a first run (the hardware "
          f"probe imports torch once), {after:.0f} MB after three more (growth {after - before:+.0f} MB, goal <= 50)")
    print(f"a run no client follows trains in {unattended:.2f}x the time of the followed ones (goal: about 1)")


if __name__ == "__main__":
    main()
