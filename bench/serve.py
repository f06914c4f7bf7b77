"""The OpenAI-compatible `/v1/chat/completions`, streamed with the `openai` client, against a plain
`model.generate`.

    .venv/bin/python bench/serve.py [--model embedded|tiny|FOLDER] [--tokens 128] [--repeats 3] [--threads N]

The app is launched in this process (the embedded SmolLM2 by default; its first conversion takes
about 20 s); the plain side calls `generate` on the very model object the app loaded (same
weights, same prompt through the same chat template, greedy decoding, no repetition penalty,
same max_tokens), so both produce the same tokens. The sides alternate; the median of the
repeats is kept. Printed as ratios:

  tokens/s ratio      /v1 ÷ plain, new tokens over the whole request  (goal >= 0.9)
  decode tokens/s     the same after the first token (the cost per token of streaming)
  time to first token /v1 ÷ plain, and the difference in milliseconds
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from generate import PROMPT, plain, setup  # noqa: E402  (the plain side, as bench/generate.py measures it)


def through_openai(client, ref: str, tokens: int) -> dict:
    """One streamed chat completion, as any OpenAI client sees it."""
    t0 = time.perf_counter()
    first, pieces, usage = None, [], None
    stream = client.chat.completions.create(
        model=ref, messages=[{"role": "user", "content": PROMPT}], max_tokens=tokens, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"repetition_penalty": 1.0})
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        text = chunk.choices[0].delta.content if chunk.choices else None
        if text:
            first = first or time.perf_counter()
            pieces.append(text)
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "ttft": (first or t1) - t0, "text": "".join(pieces),
            "tokens": usage.completion_tokens if usage else None, "chunks": len(pieces)}


def measure(url: str, ref: str, spec, tokens: int, repeats: int) -> tuple[dict, object]:
    from openai import OpenAI

    from forge import inference

    client = OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key="local", max_retries=0, timeout=600)
    t = time.perf_counter()
    through_openai(client, ref, 4)  # loads the model into the app's registry
    print(f"model {spec.label} ({spec.path}) loaded in {time.perf_counter() - t:.1f} s; {tokens} new tokens, "
          f"greedy, {repeats} runs per side")
    m = inference.get_registry().get_loaded(spec.key)
    plain(m, 4)  # warm-up
    runs: dict[str, list[dict]] = {"plain": [], "api": []}
    for i in range(repeats):
        for side in (("api", "plain") if i % 2 else ("plain", "api")):
            runs[side].append(plain(m, tokens) if side == "plain" else through_openai(client, ref, tokens))
    return runs, m


def report(runs: dict, device: str) -> None:
    n = runs["plain"][0]["tokens"]
    same = all(r["text"] == runs["plain"][0]["text"] for r in runs["plain"] + runs["api"])
    med = {s: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "ttft")} for s, rs in runs.items()}
    rate = {s: n / med[s]["seconds"] for s in med}
    print(f"device: {device} · new tokens per answer: {n} (usage says {runs['api'][0]['tokens']}) · same text on "
          f"both sides: {same} · chunks per answer: {statistics.median(r['chunks'] for r in runs['api']):.0f}")
    print(f"tokens/s            plain {rate['plain']:8.1f}   /v1 stream {rate['api']:8.1f}   "
          f"ratio {rate['api'] / rate['plain']:.3f}  (goal >= 0.9)")
    decode = {s: (n - 1) / max(1e-9, med[s]["seconds"] - med[s]["ttft"]) for s in med}
    print(f"decode tokens/s     plain {decode['plain']:8.1f}   /v1 stream {decode['api']:8.1f}   "
          f"ratio {decode['api'] / decode['plain']:.3f}  (after the first token)")
    print(f"time to first token plain {med['plain']['ttft'] * 1000:8.1f} ms /v1 stream {med['api']['ttft'] * 1000:8.1f} ms "
          f"ratio {med['api']['ttft'] / med['plain']['ttft']:.2f}  "
          f"(+{(med['api']['ttft'] - med['plain']['ttft']) * 1000:.0f} ms)")


def main() -> None:
    from ui_server import running_app

    a, torch, ref, spec = setup(__doc__)
    with running_app() as url:
        runs, m = measure(url, ref, spec, a.tokens, a.repeats)
    print(f"torch threads {torch.get_num_threads()}")
    report(runs, m.device)


if __name__ == "__main__":
    main()
