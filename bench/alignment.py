"""DPO with LoRA: the memory saved by using the adapter-disabled base as the reference model,
and the overhead of the Job against a plain TRL script with the same settings.

    python bench/alignment.py [--model tiny|embedded] [--steps 20] [--seq 256] [--repeats 1]

BENCH_THREADS (default 2) sets torch's threads. On a CPU shared with other work, 1 thread gives
much steadier times: two OpenMP threads on two busy cores can wait on each other for whole
time slices.

Every measurement runs in its own subprocess (so memory peaks do not mix). Resident memory is
counted from just before the model loads (libraries already imported), so the interpreter and
the libraries that every side shares are left out.

Sides:
  job        the Job (queue → validation → provider → DPOStrategy → save), LoRA, reference = base with
             the adapter switched off (no second model)
  trl        plain TRL DPOTrainer with the same settings and a peft_config (what TRL does by default)
  trl-ref    plain TRL DPOTrainer, LoRA, plus a separate frozen reference model (a second copy)
  trl-full   plain TRL DPOTrainer, full fine-tuning (TRL loads the reference copy itself)

Printed ratios:
  memory   job / trl-ref  (goal <= 0.7), and job / trl-full for scale, twice:
           - weights held: the bytes of the tensors the trainer holds once built (policy, adapter,
             reference; each storage counted once), what a GPU holds before activations and
             optimizer state;
           - peak RSS growth. On a CPU this peak is dominated by the working buffers of TRL's fused
             LM head (tiles of up to 4096 tokens x 32768 vocabulary entries, the same on every side)
             and by the allocator, so a second reference weighs less in it than on a GPU.
  wall     job / trl, from loading the model to the saved adapter (goal <= 1.05)
  loss     largest |loss_job - loss_trl| over the logged steps (same data order and seed)
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

SETTINGS = dict(strategy="dpo", dataset="sample:preference_polite", per_device_train_batch_size=4, lora_r=16,
                lora_alpha=32, lora_dropout=0.05, learning_rate=5e-5, warmup_ratio=0.0, eval_split=0.0, seed=42,
                logging_steps=1, save_steps=1000, lr_scheduler_type="linear", beta=0.1, bf16=False, fp16=False,
                gradient_checkpointing=False)
SIDES = ("job", "trl", "trl-ref", "trl-full")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def held_mb(trainer) -> float:
    """Bytes of the weights the trainer holds (policy, adapter, reference), each storage once: what
    an accelerator would hold before activations and optimizer state."""
    seen, total = set(), 0
    for module in (trainer.model, getattr(trainer, "ref_model", None)):
        if module is None:
            continue
        for t in list(module.parameters()) + list(module.buffers()):
            st = t.untyped_storage()
            if st.data_ptr() not in seen:
                seen.add(st.data_ptr())
                total += st.nbytes()
    return total / 2**20


def model_path(kind: str) -> str:
    from forge.settings import get_settings

    if kind == "embedded":
        from forge import catalog

        return str(catalog.embedded_folder())
    from forge.tiny import build_tiny_model

    return str(build_tiny_model(get_settings().models_dir / "bench-tiny"))


LOADED: dict[str, float] = {}  # resident memory once the trainer is built: weights, adapter, reference


def side_job(model: str, steps: int, seq: int) -> dict:
    from forge.strategies.dpo import DPOStrategy
    from forge.training import get_queue, read_all

    build = DPOStrategy.build_trainer

    def measured(self, ctx, ref_model=None):
        trainer = build(self, ctx, ref_model)
        LOADED.update(mb=rss_mb(), held=held_mb(trainer))
        return trainer

    DPOStrategy.build_trainer = measured  # measurement only: the Job runs unchanged
    t0 = time.perf_counter()
    q = get_queue()
    rec = q.wait(q.submit({**SETTINGS, "model_name": model, "max_steps": steps, "max_seq_length": seq})["id"])
    wall = time.perf_counter() - t0
    assert rec["status"] == "completed", rec.get("error")
    losses = {e["step"]: e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e}
    return {"wall": wall, "losses": losses, "accuracy": rec["metrics"].get("rewards/accuracies")}


def side_trl(model: str, steps: int, seq: int, reference: str) -> dict:
    """What a user would write with TRL alone. ``reference``: "adapter" (LoRA, TRL's default),
    "copy" (LoRA and a separate reference model) or "full" (full fine-tuning)."""
    t0 = time.perf_counter()
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from forge.data import SAMPLES_DIR

    rows = [json.loads(ln) for ln in (SAMPLES_DIR / "preference_polite.jsonl").read_text().splitlines() if ln.strip()]
    idx = list(range(len(rows)))
    random.Random(SETTINGS["seed"]).shuffle(idx)  # the order the Job's split gives
    def fmt(r):
        return {"prompt": [{"role": "user", "content": r["prompt"]}],
                "chosen": [{"role": "assistant", "content": r["chosen"]}],
                "rejected": [{"role": "assistant", "content": r["rejected"]}]}
    train = datasets.Dataset.from_list([fmt(rows[i]) for i in idx])
    tok = AutoTokenizer.from_pretrained(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32) if reference == "copy" else None
    out = tempfile.mkdtemp()
    args = DPOConfig(output_dir=out, max_steps=steps, learning_rate=SETTINGS["learning_rate"],
                     per_device_train_batch_size=4, per_device_eval_batch_size=4, max_length=seq, beta=0.1,
                     lr_scheduler_type="linear", warmup_steps=0.0, seed=42, logging_steps=1, logging_first_step=True,
                     save_steps=1000, save_total_limit=2, use_cpu=True, bf16=False, fp16=False,
                     gradient_checkpointing=False, report_to=[], disable_tqdm=True,
                     include_num_input_tokens_seen="non_padding", dataloader_num_workers=0)
    lora = None if reference == "full" else LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
                                                       target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = DPOTrainer(model=m, ref_model=ref, args=args, train_dataset=train, processing_class=tok,
                         peft_config=lora)
    LOADED.update(mb=rss_mb(), held=held_mb(trainer))
    trainer.train()
    trainer.save_model(out + "/model")
    wall = time.perf_counter() - t0
    losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    acc = [h["rewards/accuracies"] for h in trainer.state.log_history if "rewards/accuracies" in h]
    return {"wall": wall, "losses": losses, "accuracy": acc[-1] if acc else None}


def child(side: str, model: str, steps: int, seq: int) -> None:
    import peft  # noqa: F401  - every side imports the same libraries before the baseline
    import torch
    import transformers  # noqa: F401
    import trl  # noqa: F401
    from trl import DPOTrainer  # noqa: F401

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    base = rss_mb()
    if side == "job":
        res = side_job(model, steps, seq)
    else:
        res = side_trl(model, steps, seq, {"trl": "adapter", "trl-ref": "copy", "trl-full": "full"}[side])
    res.update(baseline_mb=base, peak_mb=peak_mb(), growth_mb=peak_mb() - base, loaded_mb=LOADED["mb"] - base,
               held_mb=LOADED["held"])
    print("RESULT " + json.dumps(res))


def run_side(side: str, model: str, steps: int, seq: int, home: str) -> dict:
    env = {**os.environ, "MODELFORGE_HOME": home, "HF_HUB_OFFLINE": "1", "MODELFORGE_DISABLE_TENSORBOARD": "1",
           "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": os.environ.get("BENCH_THREADS", "2")}  # the Job trains in a worker thread
    return run_child(__file__, ["--child", side, "--model-path", model, "--steps", str(steps), "--seq", str(seq)],
                     env, side)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["tiny", "embedded"], default="tiny")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=1, help="runs of job and trl (alternating); best wall time kept")
    ap.add_argument("--child")
    ap.add_argument("--model-path")
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.model_path, a.steps, a.seq)
    home = os.environ.get("MODELFORGE_HOME") or tempfile.mkdtemp(prefix="forge-bench-")
    os.environ["MODELFORGE_HOME"] = home
    model = model_path(a.model)
    results: dict[str, list[dict]] = {s: [] for s in SIDES}
    for i in range(a.repeats):
        for side in (("trl", "job") if i % 2 else ("job", "trl")):
            results[side].append(run_side(side, model, a.steps, a.seq, home))
    for side in ("trl-ref", "trl-full"):
        results[side].append(run_side(side, model, a.steps, a.seq, home))

    wall = {s: min(r["wall"] for r in rs) for s, rs in results.items()}
    grow = {s: max(r["growth_mb"] for r in rs) for s, rs in results.items()}
    loaded = {s: max(r["loaded_mb"] for r in rs) for s, rs in results.items()}
    held = {s: max(r["held_mb"] for r in rs) for s, rs in results.items()}
    lj, lt = results["job"][0]["losses"], results["trl"][0]["losses"]
    common = sorted(set(lj) & set(lt))
    diff = max(abs(lj[k] - lt[k]) for k in common)
    print(f"DPO, model: {a.model} ({model}), {a.steps} steps, batch 4, max_length {a.seq}, "
          f"{a.repeats} run(s) of job and trl, torch threads {os.environ.get('BENCH_THREADS', '2')}")
    for s in SIDES:
        r = results[s][0]
        print(f"  {s:9} wall {wall[s]:7.2f} s   weights held {held[s]:6.0f} MB   RSS growth: peak {grow[s]:6.0f} MB, "
              f"after load {loaded[s]:5.0f} MB (baseline {r['baseline_mb']:.0f} MB)   last reward accuracy {r['accuracy']}")
    for label, d in (("weights held", held), ("peak RSS", grow)):
        print(f"memory ({label:12})  job / trl-ref (separate reference) {d['job'] / d['trl-ref']:.3f}  (goal <= 0.7)"
              f"   job / trl-full {d['job'] / d['trl-full']:.3f}   job / trl {d['job'] / d['trl']:.3f}")
    print(f"wall    job / trl (same settings)  {wall['job'] / wall['trl']:.3f}  (goal <= 1.05)")
    print(f"loss    {len(common)} steps compared, largest |job - trl| {diff:.2e}")


if __name__ == "__main__":
    main()
