"""Overhead of a ModelForge run against a plain TRL script: same model, data, seed and settings.

    python bench/overhead.py [--steps 40] [--model tiny|embedded] [--repeats 2]

Each side runs in its own subprocess (so memory peaks do not mix), alternating. The ModelForge
side queues the run as the page does: its queue starts a worker process (no worker kept in
standby: each run pays its own start) and waits for it. The benchmark prints:
  wall-time ratio   ModelForge / plain TRL, from the submit (or the script's first import) to the
                    saved adapter, worker start included (goal <= 1.05 plus the worker's start)
  worker start      seconds from the submit to the worker's first event (a new Python process)
  peak-memory ratio peak resident memory of the training process (the worker) / of the TRL
                    script (goal <= 1.10)
  loss difference   largest |loss_job - loss_trl| over the logged steps       (goal <= 1e-4)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import run_child  # noqa: E402

SETTINGS = dict(dataset="sample:pirate_persona", per_device_train_batch_size=4, max_seq_length=256, lora_r=16,
                lora_alpha=32, lora_dropout=0.05, learning_rate=5e-4, warmup_ratio=0.0, eval_split=0.1, seed=42,
                logging_steps=1, save_steps=1000, lr_scheduler_type="linear",
                eval_samples=0)  # generated-answer metrics are an extra a TRL script does not do


def model_path(kind: str) -> str:
    from forge.settings import get_settings

    if kind == "embedded":
        from forge import catalog

        return str(catalog.embedded_folder())
    from forge.tiny import build_tiny_model

    return str(build_tiny_model(get_settings().models_dir / "bench-tiny"))


def side_job(model: str, steps: int) -> dict:
    from forge.training import get_queue, read_all

    t0 = time.perf_counter()
    q = get_queue()
    rec = q.wait(q.submit({**SETTINGS, "model_name": model, "max_steps": steps})["id"])
    wall = time.perf_counter() - t0
    assert rec["status"] == "completed", rec.get("error")
    while rec["id"] in q.supervising():  # the worker reaped, so its peak memory is counted below
        time.sleep(0.05)
    events = read_all(rec["events_path"])
    losses = {e["step"]: e["loss"] for e in events if e["kind"] == "metrics" and "loss" in e}
    queued = next(e["t"] for e in events if e.get("status") == "queued")
    started = next(e["t"] for e in events if e.get("status") == "running")
    return {"wall": wall, "losses": losses, "worker_start": started - queued}


def side_trl(model: str, steps: int) -> dict:
    """What a user would write with TRL alone."""
    t0 = time.perf_counter()
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from forge.data import SAMPLES_DIR

    rows = [json.loads(ln) for ln in (SAMPLES_DIR / "pirate_persona.jsonl").read_text().splitlines() if ln.strip()]
    idx = list(range(len(rows)))
    random.Random(SETTINGS["seed"]).shuffle(idx)
    n_eval = round(len(rows) * SETTINGS["eval_split"])
    def fmt(r):
        return {"prompt": [{"role": "user", "content": r["input"]}],
                "completion": [{"role": "assistant", "content": r["output"]}]}
    train = datasets.Dataset.from_list([fmt(rows[i]) for i in idx[n_eval:]])
    evals = datasets.Dataset.from_list([fmt(rows[i]) for i in idx[:n_eval]])
    tok = AutoTokenizer.from_pretrained(model)
    m = AutoModelForCausalLM.from_pretrained(model)
    out = tempfile.mkdtemp()
    args = SFTConfig(output_dir=out, max_steps=steps, learning_rate=SETTINGS["learning_rate"],
                     per_device_train_batch_size=4, per_device_eval_batch_size=4, max_length=256,
                     lr_scheduler_type="linear", warmup_steps=0.0, seed=42, logging_steps=1, logging_first_step=True,
                     eval_strategy="steps", eval_steps=max(1, steps // 5), save_steps=1000, save_total_limit=2,
                     use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, report_to=[],
                     disable_tqdm=True, completion_only_loss=True, include_num_input_tokens_seen="non_padding")
    trainer = SFTTrainer(model=m, args=args, train_dataset=train, eval_dataset=evals, processing_class=tok,
                         peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                                task_type="CAUSAL_LM"))
    trainer.train()
    evaluated = [h["step"] for h in trainer.state.log_history if "eval_loss" in h]
    if not evaluated or evaluated[-1] != trainer.state.global_step:
        trainer.evaluate()  # the final eval loss, as the Job records it
    trainer.save_model(out + "/model")
    wall = time.perf_counter() - t0
    losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    return {"wall": wall, "losses": losses}


def child(side: str, model: str, steps: int) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    res = side_job(model, steps) if side == "job" else side_trl(model, steps)
    # the training process: the worker on the ModelForge side (a child, reaped), this process for TRL
    who = resource.RUSAGE_CHILDREN if side == "job" else resource.RUSAGE_SELF
    res["peak_rss_mb"] = resource.getrusage(who).ru_maxrss / 1024
    print("RESULT " + json.dumps(res))


def run_side(side: str, model: str, steps: int, home: str) -> dict:
    env = {**os.environ, "MODELFORGE_HOME": home, "HF_HUB_OFFLINE": "1", "MODELFORGE_DISABLE_TENSORBOARD": "1",
           "PYTHONWARNINGS": "ignore", "MODELFORGE_STANDBY_WORKER": "0",
           "OMP_NUM_THREADS": os.environ.get("BENCH_THREADS", "2")}
    return run_child(__file__, ["--child", side, "--model-path", model, "--steps", str(steps)], env, side)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--model", choices=["tiny", "embedded"], default="tiny")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child")
    ap.add_argument("--model-path")
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.model_path, a.steps)
    home = os.environ.get("MODELFORGE_HOME") or tempfile.mkdtemp(prefix="forge-bench-")
    os.environ["MODELFORGE_HOME"] = home
    model = model_path(a.model)
    results = {"job": [], "trl": []}
    for i in range(a.repeats):
        for side in (("trl", "job") if i % 2 else ("job", "trl")):
            results[side].append(run_side(side, model, a.steps, home))
    best = {s: min(r["wall"] for r in results[s]) for s in results}
    peak = {s: max(r["peak_rss_mb"] for r in results[s]) for s in results}
    lj, lt = results["job"][0]["losses"], results["trl"][0]["losses"]
    common = sorted(set(lj) & set(lt))
    diff = max(abs(lj[k] - lt[k]) for k in common)
    print(f"model: {a.model} ({model}), {a.steps} steps, {a.repeats} runs per side, best wall time kept")
    start = min(r["worker_start"] for r in results["job"])
    print(f"wall time     job {best['job']:.2f} s   plain TRL {best['trl']:.2f} s   ratio {best['job'] / best['trl']:.3f}  "
          f"(goal <= 1.05 plus the worker's start)")
    print(f"worker start  {start:.2f} s from the submit to the worker's first event; without it the ratio is "
          f"{(best['job'] - start) / best['trl']:.3f}")
    print(f"peak memory   job {peak['job']:.0f} MB   plain TRL {peak['trl']:.0f} MB   ratio {peak['job'] / peak['trl']:.3f}  (goal <= 1.10)")
    print(f"loss curves   {len(common)} steps compared, largest difference {diff:.2e}  (goal <= 1e-4)")
    print(f"first/last loss  job {lj[common[0]]:.4f} -> {lj[common[-1]]:.4f}   trl {lt[common[0]]:.4f} -> {lt[common[-1]]:.4f}")


if __name__ == "__main__":
    main()
