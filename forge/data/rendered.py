"""Rows as the model will read them: rendered by the model's own chat template, the text the
trainer tokenizes (tool specs placed as training places them).

Only a tokenizer already on this machine is used (the model's folder, the Hub cache, the
embedded model once unpacked): previewing never downloads.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PREVIEW_CHARS = 600


def _tokenizer_folder(model: str) -> Path | None:
    """A local folder holding the tokenizer of ``model``, or None when it is not on this machine."""
    from .. import catalog

    ref = (model or "").strip()
    if not ref:
        return None
    if catalog.is_embedded(ref):
        cached = catalog.hub_cached(catalog.EMBEDDED_MODEL)
        return cached or (catalog.embedded_folder() if catalog.embedded_ready() else None)
    path = Path(ref).expanduser()
    if path.is_dir():
        if (path / "tokenizer_config.json").is_file():
            return path
        adapter = path / "adapter_config.json"
        if adapter.is_file():
            import json

            base = json.loads(adapter.read_text()).get("base_model_name_or_path")
            return _tokenizer_folder(base) if base and base != ref else None
        return None
    return catalog.hub_cached(ref) if catalog.HUB_ID.match(ref) else None


@functools.lru_cache(maxsize=4)
def _tokenizer(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def tokenizer_for(model: str):
    """The model's tokenizer when it is on this machine and has a chat template; else None."""
    try:
        folder = _tokenizer_folder(model)
        tok = _tokenizer(str(folder)) if folder else None
    except Exception as e:  # an unreadable folder: the preview falls back to plain roles
        log.info("no tokenizer for the preview of %s: %s", model, e)
        return None
    return tok if tok is not None and getattr(tok, "chat_template", None) else None


def rendered_rows(rows: list[dict], task: str, tokenizer, model: str, n: int = 5) -> list[dict[str, str]]:
    """The first ``n`` rows as ``{"prompt", "answer"}``: the prompt as the chat template renders it
    (up to the answer) and the answer as it follows (the tokens the loss is computed on)."""
    from . import place_tools
    from .tasks import prompt_completion_pairs

    rows, _ = place_tools(rows[:n], getattr(tokenizer, "chat_template", None), model)
    out = []
    for row in rows:
        pairs = prompt_completion_pairs(row, task)
        ex = pairs[-1] if pairs else {}
        if "text" in ex:
            out.append({"prompt": "(continued pre-training: the whole text is learned)",
                        "answer": _cut(ex["text"])})
            continue
        out.append(_render(tokenizer, ex))
    return out


def _render(tokenizer, ex: dict[str, Any]) -> dict[str, str]:
    extra = {"tools": ex["tools"]} if ex.get("tools") else {}
    prompt = tokenizer.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True, **extra)
    full = tokenizer.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=False, **extra)
    answer = full[len(prompt):] if full.startswith(prompt) else ex["completion"][0]["content"]
    return {"prompt": _cut(prompt, tail=True), "answer": _cut(answer)}


def _cut(text: str, tail: bool = False) -> str:
    """At most PREVIEW_CHARS characters; a prompt keeps its end (the part next to the answer)."""
    if len(text) <= PREVIEW_CHARS:
        return text
    return "…" + text[-PREVIEW_CHARS:] if tail else text[:PREVIEW_CHARS] + "…"
