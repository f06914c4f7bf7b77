"""The first hour: seconds from Start to the first loss point, and evaluation's share of a run.

    .venv/bin/python bench/first_loss.py [--max-steps 8]

A fresh home; the embedded model unpacked as set-up does it (`python -m forge prepare`, timed);
`python app.py` started; the default sample run (the embedded model on ``sample:pirate_persona``,
every other setting left to the studio) submitted to ``/train`` through gradio_client, then
followed to its end. ``--max-steps`` shortens it (on this CPU a step takes several seconds; the
budget scales with the run, so the share does not depend on its length). Prints:

  set-up conversion      seconds `forge prepare` took (once per machine, at set-up)
  first loss point       seconds from the submit to the first streamed event carrying a loss
                         (goal: <= 30 s), with what came before it
  evaluation share       seconds of evaluation (in-training loss, final loss, answer scoring)
                         against the run's wall time, with the default budget (goal: <= 20 %),
                         and against the same run with the budget lifted (eval_budget 1)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stream_latency import start_app  # noqa: E402


def follow(client, config: dict) -> tuple[float | None, dict, str]:
    """Submit ``config`` to /train; (seconds to the first loss point, the last update, run id)."""
    t0 = time.time()
    first = None
    last: dict = {}
    for update in client.submit(config, None, api_name="/train"):
        last = update
        if first is None and any(e.get("kind") == "metrics" and "loss" in e for e in update.get("events") or []):
            first = time.time() - t0
    return first, last, last.get("run_id")


def share(home: Path, run_id: str) -> dict:
    os.environ["MODELFORGE_HOME"] = str(home)
    from forge.runs import RunStore

    rec = RunStore(home / "runs.json").get_run(run_id) or {}
    return {**(rec.get("eval_time") or {}), "status": rec.get("status"),
            "answers": (rec.get("evaluation") or {}).get("n")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-steps", type=int, default=8)
    ap.add_argument("--no-baseline", action="store_true", help="skip the run with the budget lifted")
    args = ap.parse_args()
    from gradio_client import Client

    home = Path(tempfile.mkdtemp(prefix="forge-first-loss-"))
    env = {**os.environ, "MODELFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "forge", "prepare"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prepare = time.time() - t0
    app, url = start_app(env)
    try:
        client = Client(url, verbose=False)
        config = {"dataset": "sample:pirate_persona", "max_steps": args.max_steps, "run_name": "first-run"}
        first, last, run_id = follow(client, config)
        budgeted = share(home, run_id)
        lifted = None
        if not args.no_baseline:
            _, _, base_id = follow(client, {**config, "eval_budget": 1.0, "run_name": "no-budget"})
            lifted = share(home, base_id)
    finally:
        app.kill()
        app.wait()
    print(f"set-up conversion (forge prepare): {prepare:.1f} s, once per machine")
    print(f"first loss point: {first:.1f} s after the submit (goal <= 30 s); run {last.get('status')}")
    for label, s in (("default budget (0.2)", budgeted), ("budget lifted (1.0)", lifted)):
        if s:
            print(f"evaluation share, {label}: {s.get('eval_seconds', 0):.1f} s of {s.get('run_seconds', 0):.1f} s "
                  f"= {100 * s.get('eval_share', 0):.0f} %; {s.get('answers')} answers scored, "
                  f"{s.get('skipped_evaluations')} evaluations skipped; {s.get('status')}")
    if budgeted and lifted and lifted.get("run_seconds"):
        print(f"run time with the budget / without: {budgeted['run_seconds'] / lifted['run_seconds']:.2f}x")


if __name__ == "__main__":
    main()
