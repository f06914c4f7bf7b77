"""GGUF export of the embedded SmolLM2-135M-Instruct: time, size and fidelity per type.

    .venv/bin/python bench/export.py [--prompts 16] [--tokens 24]

Each type (f16, q8_0, q4_0) is exported with ``forge.gguf_export.export_gguf`` in a fresh home,
then read back with an independent reader, transformers' GGUF loader (and llama.cpp's Python
bindings when they are installed), and compared with the source model on held-out prompts (the
evaluation rows of the bundled samples, through the chat template):

  greedy identical   answers (greedy, --tokens new tokens) equal to the source model's, word for word
                     (goal for f16: all)
  next-token agree   teacher-forced over the source's answers: how often the exported model's top
                     token is the source's (goals: q8_0 >= 95 %, q4_0 >= 80 %)

Sizes are printed against the f16 file (the baseline of the same run) and export times as seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MODELFORGE_HOME", tempfile.mkdtemp(prefix="forge-bench-export-"))


def prompts(n: int) -> list[list[dict[str, str]]]:
    """Held-out chat prompts: the last rows of the bundled samples (the rows runs keep out)."""
    import json

    folder = ROOT / "forge" / "data" / "samples"
    take = {"pirate_persona": lambda r: r["input"], "qa_facts": lambda r: f"{r['context']}\n\n{r['question']}",
            "chat_support": lambda r: next(m["content"] for m in r["messages"] if m["role"] == "user"),
            "news_summaries": lambda r: f"Summarize:\n{r['document']}"}
    out: list[list[dict[str, str]]] = []
    for name, text in take.items():
        rows = [json.loads(line) for line in (folder / f"{name}.jsonl").read_text().splitlines() if line.strip()]
        out += [[{"role": "user", "content": text(r)[:600]}] for r in rows[-(n // len(take) + 1):]]
    return out[:n]


def answers(model, tok, convs, tokens: int) -> list[list[int]]:
    import torch

    out = []
    for conv in convs:
        enc = tok.apply_chat_template(conv, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=tokens, do_sample=False)
        out.append(ids[0, enc["input_ids"].shape[1]:].tolist())
    return out


def agreement(model, tok, convs, source_answers) -> float:
    """Share of positions where ``model``'s top token equals the source's greedy token."""
    import torch

    same = total = 0
    for conv, ans in zip(convs, source_answers):
        enc = tok.apply_chat_template(conv, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        prompt = enc["input_ids"]
        ids = torch.cat([prompt, torch.tensor([ans])], dim=1)
        with torch.no_grad():
            logits = model(ids).logits[0, prompt.shape[1] - 1:-1]
        pred = logits.argmax(-1).tolist()
        same += sum(int(a == b) for a, b in zip(pred, ans))
        total += len(ans)
    return same / max(1, total)


def llama_cpp_answers(path: Path, tok, convs, tokens: int) -> list[list[int]] | None:
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(path), n_ctx=2048, verbose=False)
    out = []
    for conv in convs:
        r = llm.create_chat_completion(conv, max_tokens=tokens, temperature=0.0)
        out.append(tok(r["choices"][0]["message"]["content"], add_special_tokens=False)["input_ids"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=24)
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forge import catalog, gguf_export
    from forge.models import human_size

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    src_dir = catalog.embedded_folder()
    tok = AutoTokenizer.from_pretrained(src_dir)
    source = AutoModelForCausalLM.from_pretrained(src_dir).eval()
    convs = prompts(args.prompts)
    ref = answers(source, tok, convs, args.tokens)
    print(f"source: {catalog.EMBEDDED_MODEL} ({sum(p.numel() for p in source.parameters()) / 1e6:.0f} M params), "
          f"{len(convs)} held-out prompts, {args.tokens} new tokens each")
    rows, f16_size = [], None
    for quant in gguf_export.TYPES:
        t0 = time.monotonic()
        rec = gguf_export.export_gguf(catalog.EMBEDDED_MODEL, quant)
        seconds = time.monotonic() - t0
        path = gguf_export.gguf_path({"path": rec["folder"]})
        size = path.stat().st_size
        f16_size = f16_size or size
        back = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
        got = answers(back, tok, convs, args.tokens)
        same = sum(int(a == b) for a, b in zip(got, ref))
        agree = agreement(back, tok, convs, ref)
        cpp = llama_cpp_answers(path, tok, convs, args.tokens)
        cpp_txt = "-" if cpp is None else f"{sum(int(a == b) for a, b in zip(cpp, ref))}/{len(ref)}"
        rows.append((quant, size, seconds, same, agree, cpp_txt))
        del back
    print(f"\n{'type':6} {'size':>10} {'vs f16':>7} {'export s':>9} {'greedy identical':>17} "
          f"{'next-token agree':>17} {'llama.cpp greedy':>17}")
    for quant, size, seconds, same, agree, cpp_txt in rows:
        print(f"{quant:6} {human_size(size):>10} {size / f16_size:>6.2f}x {seconds:>9.1f} "
              f"{f'{same}/{len(ref)}':>17} {agree:>16.1%} {cpp_txt:>17}")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("\nllama.cpp greedy: llama.cpp's Python bindings are not installed (an optional extra that "
              "compiles llama.cpp: pip install llama-cpp-python, with a C/C++ compiler)")
    goals = {"f16": ("greedy identical", rows[0][3] == len(ref)), "q8_0": ("agree >= 95 %", rows[1][4] >= 0.95),
             "q4_0": ("agree >= 80 %", rows[2][4] >= 0.80)}
    print("\ngoals: " + ", ".join(f"{q} {what}: {'met' if ok else 'NOT met'}" for q, (what, ok) in goals.items()))


if __name__ == "__main__":
    main()
