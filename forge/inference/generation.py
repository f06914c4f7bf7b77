"""The one generation path: prompts → one batch padded by the tokenizer → ``model.generate``.

The Playground and the OpenAI-compatible endpoint stream through it (:mod:`.streaming` adds a
streamer and a stop to :func:`generation_kwargs`); evaluation takes whole answers with
:func:`generate`, during a run and after it. Every model here is a decoder-only (causal) model,
so a batch is padded on the left: each row's answer starts right after its prompt. A prompt too
long for the model's context keeps its end.
"""

from __future__ import annotations

from typing import Any, Callable

from .prompts import Prompt, prompt_text, templated
from .sampling import GenerationSettings


def context_length(model) -> int | None:
    """How many tokens the model reads at most (prompt and answer together), when it says."""
    return getattr(model.config, "max_position_embeddings", None)


def encode(tokenizer, prompts: list[Prompt], *, context_length: int | None = None, max_new_tokens: int = 0,
           truncate: bool = True) -> dict[str, Any]:
    """Token ids and attention mask of a batch of prompts (all chat messages, or all raw texts), padded
    on the left by the tokenizer. Unless ``truncate`` is False, a batch too long for
    ``context_length`` with ``max_new_tokens`` to come keeps the end of each prompt."""
    texts = [prompt_text(tokenizer, p) for p in prompts]
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                    add_special_tokens=not templated(tokenizer, prompts[0]))
    enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    if truncate and context_length and enc["input_ids"].shape[1] + max_new_tokens > context_length:
        keep = max(1, context_length - max_new_tokens)  # left padding: every prompt ends in the last column
        enc = {k: v[:, -keep:] for k, v in enc.items()}
    return enc


def generation_kwargs(model, tokenizer, prompts: list[Prompt], settings: GenerationSettings) -> dict[str, Any]:
    """``model.generate``'s arguments for a batch: its token ids on the model's device, the sampling
    settings, and never more new tokens than the context leaves."""
    limit = context_length(model)
    enc = encode(tokenizer, prompts, context_length=limit, max_new_tokens=settings.max_new_tokens)
    device = next(model.parameters()).device
    kwargs = {k: v.to(device) for k, v in enc.items()}
    kwargs.update(pad_token_id=tokenizer.pad_token_id, **settings.generate_kwargs())
    if limit:
        kwargs["max_new_tokens"] = max(1, min(settings.max_new_tokens, limit - enc["input_ids"].shape[1]))
    return kwargs


def generate(model, tokenizer, prompts: list[Prompt], settings: GenerationSettings, *, batch_size: int = 8,
             progress: Callable[[float, str], None] | None = None) -> list[str]:
    """Whole answers to ``prompts`` (stripped), ``batch_size`` prompts per ``generate`` call. The model is
    in eval mode meanwhile (a model being trained goes back to training mode after)."""
    import torch

    answers: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(prompts), batch_size):
            kwargs = generation_kwargs(model, tokenizer, prompts[i:i + batch_size], settings)
            with torch.no_grad():
                out = model.generate(**kwargs)
            new = out[:, kwargs["input_ids"].shape[1]:]
            answers += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
            if progress:
                progress(len(answers) / len(prompts), f"generated {len(answers)}/{len(prompts)} answers")
    finally:
        model.train(was_training)
    return answers
