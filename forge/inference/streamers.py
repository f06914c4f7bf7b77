"""What runs a streamed answer: ``model.generate`` in threads, each row of a batch streamed to one
queue of ``(row, text, ended)``, the stop, and the timing of the answer."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from .loading import InferenceModel

log = logging.getLogger(__name__)


@dataclass
class GenerationStats:
    """Filled while an answer streams: tokens per row, time to the first token, duration."""

    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    finished: float | None = None
    tokens: list[int] = field(default_factory=list)
    stopped: bool = False

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        gen = (self.finished or 0) - (self.first_token or 0) if self.first_token and self.finished else None
        most = max(self.tokens or [0])
        return {"tokens": list(self.tokens), "time_to_first_token": self.time_to_first_token, "seconds": self.seconds,
                "tokens_per_second": round((most - 1) / gen, 2) if gen and most > 1 else None,
                "stopped": self.stopped}


def streamer_classes():
    """``(RowStreamer, EventStop)``: transformers' classes, imported when a stream starts."""
    from transformers import StoppingCriteria, TextIteratorStreamer

    class RowStreamer(TextIteratorStreamer):
        """A TextIteratorStreamer for one row of a batch, writing ``(row, text, ended)`` to a shared queue."""

        def __init__(self, tokenizer, row: int, out: queue.Queue):
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.row, self.out = row, out

        def on_finalized_text(self, text: str, stream_end: bool = False):
            self.out.put((self.row, text, stream_end))

    class EventStop(StoppingCriteria):
        """Ends generation as soon as one of the events is set."""

        def __init__(self, *events: threading.Event):
            self.events = [e for e in events if e is not None]

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            stop = any(e.is_set() for e in self.events)
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

    return RowStreamer, EventStop


class SplitStreamer:
    """A streamer (transformers' ``BaseStreamer`` interface: ``put``, ``end``) that hands each row of a
    batch to its own RowStreamer; a row ends at its end-of-sequence token."""

    def __init__(self, rows: list, eos: set[int], stats: GenerationStats, offset: int):
        self.rows, self.eos, self.stats, self.offset = rows, eos, stats, offset
        self.done = [False] * len(rows)
        self.prompt = True

    def put(self, value):
        value = value.cpu()
        if self.prompt:  # the first call carries the prompt
            self.prompt = False
            for i, s in enumerate(self.rows):
                s.put(value[i:i + 1])
            return
        value = value.reshape(len(self.rows), -1)
        for i, s in enumerate(self.rows):
            if not self.done[i]:
                self._put_row(i, s, value[i])

    def _put_row(self, i: int, s, row) -> None:
        tokens = row.tolist()
        if any(t in self.eos for t in tokens):
            self.done[i] = True
            s.end()
            return
        if self.stats.first_token is None:
            self.stats.first_token = time.perf_counter()
        self.stats.tokens[self.offset + i] += len(tokens)
        s.put(row)

    def end(self):
        for i, s in enumerate(self.rows):
            if not self.done[i]:
                self.done[i] = True
                s.end()


class Workers:
    """The generation threads of one streamed answer and what they share: the queue of text pieces,
    the errors they met, and the events that stop them and say they have all ended."""

    def __init__(self, stop: threading.Event | None):
        self.stop = stop
        self.out: queue.Queue = queue.Queue()
        self.halt = threading.Event()  # set when the consumer leaves: the threads stop at the next token
        self.finished = threading.Event()  # set when all threads end
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self._running = 0
        self._lock = threading.Lock()

    def stopped(self) -> bool:
        return (self.stop is not None and self.stop.is_set()) or self.halt.is_set()

    def add(self, m: InferenceModel, kwargs: dict[str, Any], streamer: SplitStreamer) -> None:
        self._running += 1
        self.threads.append(threading.Thread(target=self._work, args=(m, kwargs, streamer), name="forge-generate",
                                             daemon=True))

    def _work(self, m: InferenceModel, kwargs: dict[str, Any], streamer: SplitStreamer) -> None:
        import torch

        try:
            while not m.lock.acquire(timeout=0.05):  # one generation at a time on a model
                if self.stopped():  # a stop while waiting for another answer to finish
                    return
            try:
                if not self.stopped():
                    with torch.inference_mode():
                        m.model.generate(**kwargs)
            finally:
                m.lock.release()
        except BaseException as e:  # noqa: BLE001 — reported to the consumer
            self.errors.append(e)
            log.exception("generation failed")
        finally:
            streamer.end()
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self.finished.set()

    def take(self, block: bool) -> list[tuple[int, str, bool]]:
        items = [self.out.get()] if block else []
        while True:
            try:
                items.append(self.out.get_nowait())
            except queue.Empty:
                return items

    def collect(self, total: int, every: float) -> Iterator[tuple[int, str]]:
        """``(row, text piece)`` until all ``total`` rows have ended; ``every`` > 0: pieces arriving within
        that many seconds of the last yield are joined (the first never waits)."""
        ended, pending, last = 0, {}, 0.0
        while ended < total:
            if pending:  # (every > 0) wait until the next update is due or generation ends, not at every token
                self.finished.wait(max(0.0, last + every - time.monotonic()))
                items = self.take(False)
            else:
                items = [self.out.get()] if every <= 0 else self.take(True)
            for row, text, end in items:
                if text:
                    pending[row] = pending.get(row, "") + text
                ended += bool(end)
            if pending and (every <= 0 or time.monotonic() - last >= every or ended >= total):
                yield from pending.items()
                pending, last = {}, time.monotonic()
