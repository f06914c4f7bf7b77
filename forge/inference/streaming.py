"""Streaming answers: :func:`stream` (one answer, piece by piece), :func:`stream_compare` (a
fine-tuned model and its base side by side), :func:`prompt_fit` and :func:`generate_text`.

Each request goes through the one generation path (:func:`.generation.generation_kwargs`) with a
streamer per row, ``model.generate`` running in a thread. For a LoRA adapter, comparing answers
both rows from one model in one batch (PEFT's mixed-adapter batch: one row through the adapter, one
through the base), so the base costs no extra memory. A stop ``threading.Event`` ends generation
after the current token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import ForgeError
from ..refs import ModelSpec, base_spec_of, resolve_spec
from .generation import generation_kwargs
from .loading import InferenceModel, Progress
from .prompts import Prompt, request_prompt
from .registry import ModelRegistry, get_registry
from .sampling import GenerationSettings, as_settings
from .streamers import GenerationStats, SplitStreamer, Workers, streamer_classes

BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch


@dataclass
class _Request:
    """One ``generate`` call: a model and one prompt per output row. Two rows on an adapter make a
    mixed-adapter batch (``adapter_names``: row 0 through the adapter, row 1 without it)."""

    model: InferenceModel
    prompts: list[Prompt]
    adapter_names: list[str] | None = None

    @property
    def rows(self) -> int:
        return len(self.prompts)

    def kwargs(self, settings: GenerationSettings, streamer: SplitStreamer, stopping) -> dict[str, Any]:
        """``model.generate``'s arguments: the one generation path's, plus the streamer and the stop."""
        kwargs = generation_kwargs(self.model.model, self.model.tokenizer, self.prompts, settings)
        kwargs.update(streamer=streamer, stopping_criteria=stopping)
        if self.adapter_names:
            kwargs["adapter_names"] = self.adapter_names
        return kwargs


def _stream_requests(requests: list[_Request], settings: GenerationSettings, stop: threading.Event | None,
                     stats: GenerationStats, every: float = 0.0) -> Iterator[tuple[int, str]]:
    """Run every request in its own thread; yield ``(row, text piece)`` as they come. ``every`` > 0:
    pieces arriving within that many seconds of the last yield are joined (the first never waits)."""
    from transformers import StoppingCriteriaList

    RowStreamer, EventStop = streamer_classes()
    workers = Workers(stop)
    stats.tokens = [0] * sum(r.rows for r in requests)
    offset = 0
    for req in requests:
        rows = [RowStreamer(req.model.tokenizer, offset + i, workers.out) for i in range(req.rows)]
        streamer = SplitStreamer(rows, req.model.eos_ids(), stats, offset)
        stopping = StoppingCriteriaList([EventStop(stop, workers.halt)])
        workers.add(req.model, req.kwargs(settings, streamer, stopping), streamer)
        offset += req.rows
    try:
        for t in workers.threads:
            t.start()
        yield from workers.collect(offset, every)
        for t in workers.threads:  # every row has ended: the threads are returning
            t.join()
    finally:
        workers.halt.set()
        stats.finished = time.perf_counter()
        stats.stopped = bool(stop is not None and stop.is_set())
    if workers.errors:
        raise _generation_error(workers.errors[0])


def _generation_error(e: BaseException) -> ForgeError:
    if isinstance(e, ForgeError):
        return e
    if "out of memory" in str(e).lower():
        return ForgeError("The model ran out of memory while answering.",
                          "Lower max new tokens, shorten the conversation, or unload other models.")
    return ForgeError(f"Generation failed: {type(e).__name__}: {str(e)[:300]}")


def _spec(ref: str | ModelSpec, sandbox: bool) -> ModelSpec:
    return ref if isinstance(ref, ModelSpec) else resolve_spec(ref, sandbox=sandbox)


def stream(ref: str | ModelSpec, messages: Prompt, settings: GenerationSettings | dict | None = None,
           *, stop: threading.Event | None = None, sandbox: bool = False, progress: Progress | None = None,
           stats: GenerationStats | None = None, registry: ModelRegistry | None = None,
           every: float = 0.0) -> Iterator[str]:
    """Stream the answer to ``messages`` (a system prompt in ``settings`` is put first), piece by piece;
    ``messages`` as a string is a raw text prompt to continue (no chat template).
    ``every``: join the pieces that arrive within that many seconds (a page needs no more than ~20 updates a second)."""
    settings = as_settings(settings)
    spec = _spec(ref, sandbox)
    prompt = request_prompt(messages, settings.system_prompt)
    stats = stats if stats is not None else GenerationStats()
    with (registry or get_registry()).use(spec, progress) as m:
        stats.started = time.perf_counter()
        for _row, text in _stream_requests([_Request(m, [prompt])], settings, stop, stats, every):
            yield text


def prompt_fit(ref: str | ModelSpec, messages: Prompt, settings: GenerationSettings | dict | None = None, *,
               sandbox: bool = False, progress: Progress | None = None,
               registry: ModelRegistry | None = None) -> tuple[int, int | None]:
    """How many tokens the prompt of ``messages`` takes, as :func:`stream` encodes it (not cut), and
    the model's context length (None when the model does not say). Loads the model when needed."""
    settings = as_settings(settings)
    with (registry or get_registry()).use(_spec(ref, sandbox), progress) as m:
        prompt = request_prompt(messages, settings.system_prompt)
        return m.encode(prompt, truncate=False)["input_ids"].shape[1], m.context_length


def stream_compare(ref: str | ModelSpec, messages: list[dict[str, str]],
                   settings: GenerationSettings | dict | None = None, *, base_messages: list[dict] | None = None,
                   stop: threading.Event | None = None, sandbox: bool = False, progress: Progress | None = None,
                   stats: GenerationStats | None = None, registry: ModelRegistry | None = None,
                   every: float = 0.0) -> Iterator[tuple[int, str]]:
    """Stream the fine-tuned model's answer (row 0) and its base model's (row 1) side by side.

    ``base_messages`` is the base model's own conversation (default: ``messages``). An adapter
    answers both rows in one batch (PEFT's mixed-adapter batch), so the base costs no memory; a
    full or merged model is compared with its base model loaded beside it.
    """
    settings = as_settings(settings)
    spec = _spec(ref, sandbox)
    base = base_spec_of(spec)
    prompt = request_prompt(messages, settings.system_prompt)
    base_prompt = prompt if base_messages is None else request_prompt(base_messages, settings.system_prompt)
    stats = stats if stats is not None else GenerationStats()
    reg = registry or get_registry()
    with reg.use(spec, progress) as m:
        if m.has_adapter:
            stats.started = time.perf_counter()
            yield from _stream_requests([_Request(m, [prompt, base_prompt], ["default", BASE_ADAPTER])],
                                        settings, stop, stats, every)
            return
        with reg.use(base, progress) as b:
            stats.started = time.perf_counter()
            yield from _stream_requests([_Request(m, [prompt]), _Request(b, [base_prompt])], settings, stop, stats,
                                        every)


def generate_text(ref: str | ModelSpec, messages: Prompt, settings: GenerationSettings | dict | None = None,
                  **kw: Any) -> str:
    """The whole answer at once."""
    return "".join(stream(ref, messages, settings, **kw))
