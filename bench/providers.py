"""Tokens per second and peak memory of the same LoRA SFT run through each model provider.

    python bench/providers.py                      # tiny random Llama (seconds, any machine)
    python bench/providers.py --model embedded     # the embedded SmolLM2-135M-Instruct
    python bench/providers.py --model PATH --steps 60 --batch 8 --seq 512 --json out.json

Each provider runs in its own subprocess, so neither its imports nor its memory peak leak into
the other's numbers. The run is identical for all: LoRA r=16, alpha=32 on q/k/v/o/gate/up/down,
TRL SFTTrainer, fixed-length rows (no padding), AdamW, no gradient checkpointing; bf16 on GPUs
that have it (fp16 on older ones), fp32 on CPU. Tokens per second are timed after the first
``--warmup`` optimizer steps. Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU and
the process's peak resident set (``getrusage``) on CPU.

A provider that cannot run here (Unsloth not installed, no GPU) is listed with the reason.
On a CPU-only machine Unsloth runs only with ``MODELFORGE_UNSLOTH_CPU=1`` (its CPU fallback);
its numbers then say nothing of its GPU kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
WORDS = ("the captain charts a course past the reef while the crew hoists every sail and sings of "
         "gold buried beneath the old lighthouse on the northern isle ").split()


def _model_path(ref: str) -> str:
    """Resolve the model reference to a folder (building the tiny model once)."""
    from forge import catalog
    from forge.settings import get_settings

    if ref == "embedded":
        return str(catalog.resolve(catalog.EMBEDDED_MODEL).path)
    if ref != "tiny":
        return str(catalog.resolve(ref).path)
    path = get_settings().cache_dir / "bench" / "tiny-llama"
    if not (path / "config.json").is_file():
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tok = AutoTokenizer.from_pretrained(catalog.resolve(catalog.EMBEDDED_MODEL).path)
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                          bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
        torch.manual_seed(0)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        LlamaForCausalLM(cfg).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
    return str(path)


def _rows(n: int, seq: int) -> list[str]:
    """n distinct texts, each far longer than ``seq`` tokens, so every row is truncated to exactly seq."""
    out = []
    for i in range(n):
        words = WORDS[i % len(WORDS):] + WORDS[: i % len(WORDS)]
        out.append(" ".join(words * (seq // len(words) + 4)))
    return out


def child(args) -> dict:
    """One provider, one process: load, train, measure."""
    import forge  # noqa: F401  (imports Unsloth first where it will be used)

    # isort: split
    import torch

    from forge import catalog
    from forge.config import RunConfig
    from forge.providers import get_provider

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    provider = get_provider(args.child)
    ok, why = provider.available()
    resolved = catalog.resolve(args.model_path)
    config = RunConfig(model_name=args.model_path, provider=args.child, lora_r=16, lora_alpha=32, lora_dropout=0.0,
                       target_modules=TARGETS, max_seq_length=args.seq, per_device_train_batch_size=args.batch,
                       gradient_accumulation_steps=1, bf16=bf16, fp16=bool(cuda and not bf16),
                       gradient_checkpointing=False, seed=0)
    if ok:
        ok, why = provider.supports(resolved, config)
    if not ok:
        return {"provider": args.child, "skipped": why}

    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    loaded = provider.load(resolved, config)
    load_s = time.perf_counter() - t0
    peft_config = None if loaded.peft_applied else LoraConfig(
        r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *_, **__):
            if cuda:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    sft = SFTConfig(output_dir=str(Path(args.out) / args.child), max_steps=args.steps,
                    per_device_train_batch_size=args.batch, gradient_accumulation_steps=1, learning_rate=2e-4,
                    lr_scheduler_type="constant", logging_steps=args.steps, save_strategy="no", report_to="none",
                    use_cpu=not cuda, bf16=bf16, fp16=bool(cuda and not bf16), max_length=args.seq, packing=False,
                    gradient_checkpointing=False, dataloader_num_workers=0, seed=0, disable_tqdm=True)
    rows = _rows(args.batch * args.steps, args.seq)
    trainer = SFTTrainer(model=loaded.model, args=sft, train_dataset=Dataset.from_dict({"text": rows}),
                         processing_class=loaded.tokenizer, peft_config=peft_config, callbacks=[Clock()])
    lengths = {len(x) for x in trainer.train_dataset["input_ids"]}
    assert lengths == {args.seq}, f"rows are not all {args.seq} tokens long: {sorted(lengths)[:5]}"
    out = trainer.train()
    timed = len(stamps) - 1 - args.warmup
    tokens_s = timed * args.batch * args.seq / (stamps[-1] - stamps[args.warmup]) if timed > 0 else float("nan")
    if cuda:
        peak, kind = torch.cuda.max_memory_allocated(), "cuda max_memory_allocated"
    else:
        import resource

        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS"
    return {"provider": args.child, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "dtype": "bf16" if bf16 else "fp16" if cuda else "fp32", "tokens_per_s": tokens_s,
            "peak_mib": peak / 2**20, "memory": kind, "load_s": load_s, "train_loss": out.training_loss,
            "steps": args.steps, "notes": loaded.notes}


def main() -> int:  # noqa: C901 — one benchmark read top to bottom: set up, run both providers, report
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny", help="tiny (default), embedded, or a model folder / Hub id")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3, help="steps left out of the timing")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=1,
                    help="run each provider this many times, alternating, and keep its best (for busy machines)")
    ap.add_argument("--providers", default="", help="comma-separated (default: every registered provider)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--out", default=None, help="scratch folder for trainer output")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--model-path", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.prepare:
        from forge.providers import PROVIDERS

        print(json.dumps({"model_path": _model_path(args.model), "providers": list(PROVIDERS)}))
        return 0
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return 0

    import tempfile

    def run(extra: list[str]) -> dict:
        cmd = [sys.executable, __file__, *extra]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith(("RESULT ", "{"))]
        if p.returncode != 0 or not lines:
            return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]}
        return json.loads(lines[-1].removeprefix("RESULT "))

    prep = run(["--prepare", "--model", args.model])
    if "error" in prep:
        print(f"Could not prepare model {args.model}: {prep['error'][0]}")
        return 1
    names = [n.strip() for n in args.providers.split(",") if n.strip()] or prep["providers"]
    out = args.out or tempfile.mkdtemp(prefix="forge-bench-")
    best: dict[str, dict] = {}
    for _ in range(max(1, args.repeats)):
        for name in names:
            r = run(["--child", name, "--model-path", prep["model_path"], "--steps", str(args.steps),
                     "--warmup", str(args.warmup), "--batch", str(args.batch), "--seq", str(args.seq), "--out", out])
            r.setdefault("provider", name)
            prev = best.get(name)
            if prev is None or r.get("tokens_per_s", -1) > prev.get("tokens_per_s", -1):
                if prev and "peak_mib" in prev:
                    r["peak_mib"] = min(r["peak_mib"], prev["peak_mib"])
                best[name] = r
            elif "peak_mib" in r:
                prev["peak_mib"] = min(prev["peak_mib"], r["peak_mib"])
    results = [best[n] for n in names]

    print(f"model {args.model} ({prep['model_path']}), {args.steps} steps of batch {args.batch} x {args.seq} tokens, "
          f"LoRA r=16" + (f", best of {args.repeats} runs" if args.repeats > 1 else ""))
    print(f"{'provider':<12} {'device':<24} {'dtype':<5} {'tokens/s':>10} {'peak MiB':>10} {'load s':>7} {'loss':>7}")
    for r in results:
        if "tokens_per_s" in r:
            print(f"{r['provider']:<12} {r['device'][:24]:<24} {r['dtype']:<5} {r['tokens_per_s']:>10.0f} "
                  f"{r['peak_mib']:>10.0f} {r['load_s']:>7.1f} {r['train_loss']:>7.3f}")
        else:
            print(f"{r['provider']:<12} skipped: {r.get('skipped') or ' '.join(r.get('error', []))}")
    done = {r["provider"]: r for r in results if "tokens_per_s" in r}
    if "unsloth" in done and "huggingface" in done:
        u, h = done["unsloth"], done["huggingface"]
        print(f"unsloth/huggingface: tokens/s x{u['tokens_per_s'] / h['tokens_per_s']:.2f}, "
              f"peak memory ({u['memory']}) x{u['peak_mib'] / h['peak_mib']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
