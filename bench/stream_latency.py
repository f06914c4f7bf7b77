"""Delay from an event written to a run's log to its arrival at a gradio_client.

    .venv/bin/python bench/stream_latency.py [--events 60] [--interval 0.25]
    .venv/bin/python bench/stream_latency.py --train    # a real run of the tiny model through /train

Default mode: the app runs in a subprocess; this script records a run in the app's store and
appends events to its log at a steady pace, stamping each with its write time, while a
gradio_client follows the run through `/follow`. With ``--train`` the tiny random Llama trains
through `/train` and each metrics/progress event's own timestamp is compared with its arrival.
Prints the median, 90th percentile and maximum delay (goal: median <= 1 s).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("the app did not come up")


def report(delays: list[float], what: str) -> None:
    delays = sorted(delays)
    p90 = delays[int(0.9 * (len(delays) - 1))]
    print(f"{what}: {len(delays)} events")
    print(f"  median {statistics.median(delays) * 1000:.0f} ms · p90 {p90 * 1000:.0f} ms · "
          f"max {delays[-1] * 1000:.0f} ms  (goal: median <= 1000 ms)")


def synthetic(url: str, n: int, interval: float) -> None:
    import subprocess
    import threading

    from gradio_client import Client

    from forge.runs import RunStore
    from forge.training.events import EventLog
    from forge.training.job import run_dir

    store = RunStore()
    rec = store.create_run({"name": "latency-bench", "config": {}, "base_model": "none", "strategy": "sft",
                            "status": "running"})
    path = run_dir(rec["id"]) / "events.jsonl"
    # a live stand-in for the run's worker (the server's queue ends runs whose worker is gone)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "forge.training.worker",
                                 str(path.parent)])
    store.update_run(rec["id"], events_path=str(path), run_dir=str(path.parent), started=time.time(),
                     pid=stand_in.pid)
    log = EventLog(path)
    log.emit("status", status="running", message="Run started")

    client = Client(url, verbose=False)
    arrivals: dict[int, float] = {}
    job = client.submit(rec["id"], api_name="/follow")

    def consume():
        for update in job:
            now = time.time()
            for ev in update["events"]:
                if ev["kind"] == "metrics":
                    arrivals.setdefault(int(ev["step"]), now)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    time.sleep(1.0)  # let the follower attach
    written: dict[int, float] = {}
    for step in range(1, n + 1):
        ev = log.emit("metrics", step=step, loss=10 / step, learning_rate=1e-4, phase="train", epoch=step / n)
        written[step] = ev["t"]
        log.emit("progress", step=step, max_steps=n, epoch=step / n, elapsed=step * interval, eta=0.0,
                 tokens_per_second=0.0, phase="train")
        time.sleep(interval)
    log.emit("status", status="completed", message="done")
    log.emit("result", status="completed", metrics={}, output_dir=None, error=None)
    store.update_run(rec["id"], status="completed", finished=time.time())
    stand_in.kill()
    t.join(timeout=30)
    delays = [arrivals[s] - written[s] for s in written if s in arrivals]
    missing = n - len(delays)
    report(delays, f"synthetic events every {interval:.2f} s through /follow"
           + (f" ({missing} never arrived)" if missing else ""))


def train(url: str) -> None:
    from gradio_client import Client

    from forge.settings import get_settings
    from forge.tiny import build_tiny_model

    model = build_tiny_model(get_settings().models_dir / "tiny-llama")
    cfg = dict(model_name=str(model), dataset="sample:pirate_persona", max_steps=60, per_device_train_batch_size=2,
               max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=5e-3, max_samples=120, logging_steps=1,
               warmup_ratio=0.0, run_name="latency-bench-train")
    client = Client(url, verbose=False)
    delays = []
    final = None
    for update in client.submit(cfg, None, api_name="/train"):
        now = time.time()
        delays += [now - ev["t"] for ev in update["events"] if ev["kind"] in ("metrics", "progress")]
        final = update
    report(delays, f"a real run of the tiny model through /train ({final['status']}, {final['step']} steps)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=60)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--train", action="store_true", help="measure a real training run of the tiny model instead")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="forge-bench-latency-"))
    os.environ.update(MODELFORGE_HOME=str(home), HF_HUB_OFFLINE="1", MODELFORGE_DISABLE_TENSORBOARD="1")
    os.environ.pop("MODELFORGE_DB_PATH", None)
    os.environ.pop("MODELFORGE_AUTH", None)
    shared = Path(os.environ.get("MODELFORGE_TEST_CACHE", Path(tempfile.gettempdir()) / "forge-test-cache"))
    embedded = shared / "embedded" / "SmolLM2-135M-Instruct"
    if args.train and (embedded / "model.safetensors").is_file():  # reuse the tests' converted copy
        (home / "cache" / "embedded").mkdir(parents=True, exist_ok=True)
        (home / "cache" / "embedded" / embedded.name).symlink_to(embedded, target_is_directory=True)
    proc, url = start_app(dict(os.environ))
    try:
        train(url) if args.train else synthetic(url, args.events, args.interval)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
