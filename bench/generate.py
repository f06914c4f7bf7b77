"""Generation through the Playground's `/generate` endpoint against a plain `model.generate`.

    .venv/bin/python bench/generate.py [--model embedded|tiny|FOLDER] [--tokens 128] [--repeats 3] [--threads N]

The app is launched in this process and `/generate` is streamed over HTTP; the plain side
calls `generate` on the very model object the app loaded (same weights, same prompt through
the same chat template, greedy decoding), so both produce the same tokens. The sides
alternate; the median of the repeats is kept. Printed as ratios:

  tokens/s ratio      /generate ÷ plain, new tokens over the whole request  (goal >= 0.9)
  decode tokens/s     the same after the first token (the cost per token of streaming)
  time to first token /generate ÷ plain, and the difference in milliseconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."


def model_ref(kind: str) -> str:
    from forge.config import EMBEDDED_MODEL
    from forge.settings import get_settings

    if kind == "embedded":
        return EMBEDDED_MODEL
    if kind == "tiny":
        from forge.tiny import build_tiny_model

        return str(build_tiny_model(get_settings().models_dir / "bench-tiny"))
    return str(Path(kind).resolve())


def plain(m, tokens: int) -> dict:
    """`model.generate` alone; a do-nothing streamer only notes when the first new token comes."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2 and self.first is None:
                self.first = time.perf_counter()

        def end(self):
            pass

    enc = m.encode([{"role": "user", "content": PROMPT}], tokens)
    enc = {k: v.to(m.model.device) for k, v in enc.items()}
    streamer = FirstToken()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = m.model.generate(**enc, max_new_tokens=tokens, do_sample=False, repetition_penalty=1.0,
                               temperature=None, top_p=None, top_k=None, streamer=streamer,
                               pad_token_id=m.tokenizer.pad_token_id)
    if m.device == "cuda":
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    new = out[0, enc["input_ids"].shape[1]:]
    return {"seconds": t1 - t0, "ttft": streamer.first - t0, "tokens": int(new.shape[0]),
            "text": m.tokenizer.decode(new, skip_special_tokens=True)}


def through_api(url: str, ref: str, tokens: int) -> dict:
    """`/generate` over HTTP, as any client sees it: POST the call, then read its server-sent events.
    (gradio_client's blocking iterator polls every millisecond; in this process it would slow the
    generation it measures.)"""
    import json

    import httpx

    settings = {"temperature": 0, "repetition_penalty": 1.0, "max_new_tokens": tokens}
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, timeout=600) as http:
        event_id = http.post("gradio_api/call/generate", json={"data": [ref, PROMPT, None, settings, "chat", "", "", ""]}).json()["event_id"]
        first, text, updates, event = None, "", 0, None
        with http.stream("GET", f"gradio_api/call/generate/{event_id}") as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("generating", "complete"):
                    data = json.loads(line[5:])
                    if data:
                        text = data[0]
                        updates += event == "generating"
                        if first is None and text:
                            first = time.perf_counter()
                elif event == "error" and line.startswith("data:"):
                    raise SystemExit(f"/generate failed: {line[5:]}")
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "ttft": (first or t1) - t0, "text": text, "updates": updates}


def setup(doc: str):
    """The options a serving benchmark takes, a fresh offline home, the torch threads; returns
    ``(options, torch, model reference, its ModelSpec)`` (bench/serve.py uses it too)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--model", default="embedded", help="embedded (SmolLM2-135M), tiny, or a model folder")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    a = ap.parse_args()
    os.environ.setdefault("MODELFORGE_HOME", tempfile.mkdtemp(prefix="forge-bench-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.threads:  # before torch loads: the setting then holds in every thread, the app's included
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(a.threads)
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from forge.refs import resolve_spec

    ref = model_ref(a.model)
    return a, torch, ref, resolve_spec(ref)


def main() -> None:
    from forge import inference
    from ui_server import running_app

    a, torch, ref, spec = setup(__doc__)
    with running_app() as url:
        t = time.perf_counter()
        through_api(url, ref, 4)  # loads the model into the app's registry
        print(f"model {spec.label} ({spec.path}) loaded in {time.perf_counter() - t:.1f} s; "
              f"{a.tokens} new tokens, greedy, {a.repeats} runs per side, torch threads {torch.get_num_threads()}")
        m = inference.get_registry().get_loaded(spec.key)
        plain(m, 4)  # warm-up
        runs = {"plain": [], "api": []}
        for i in range(a.repeats):
            for side in (("api", "plain") if i % 2 else ("plain", "api")):
                runs[side].append(plain(m, a.tokens) if side == "plain" else through_api(url, ref, a.tokens))
    n = runs["plain"][0]["tokens"]
    same = all(r["text"] == runs["plain"][0]["text"] for r in runs["plain"] + runs["api"])
    med = {s: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "ttft")} for s, rs in runs.items()}
    rate = {s: n / med[s]["seconds"] for s in med}
    print(f"device: {m.device} · new tokens per answer: {n} · same text on both sides: {same} · "
          f"stream updates per answer: {statistics.median(r['updates'] for r in runs['api']):.0f}")
    print(f"tokens/s            plain {rate['plain']:8.1f}   /generate {rate['api']:8.1f}   "
          f"ratio {rate['api'] / rate['plain']:.3f}  (goal >= 0.9)")
    decode = {s: (n - 1) / max(1e-9, med[s]["seconds"] - med[s]["ttft"]) for s in med}
    print(f"decode tokens/s     plain {decode['plain']:8.1f}   /generate {decode['api']:8.1f}   "
          f"ratio {decode['api'] / decode['plain']:.3f}  (after the first token)")
    print(f"time to first token plain {med['plain']['ttft'] * 1000:8.1f} ms /generate {med['api']['ttft'] * 1000:8.1f} ms "
          f"ratio {med['api']['ttft'] / med['plain']['ttft']:.2f}  (+{(med['api']['ttft'] - med['plain']['ttft']) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
