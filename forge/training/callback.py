"""EventCallback: turns the trainer's callbacks into events, and honours stop requests."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from transformers import TrainerCallback

from .events import EventLog


class EventCallback(TrainerCallback):
    def __init__(self, events: EventLog, stop_event: threading.Event, phase: str = "train",
                 progress_interval: float = 0.5):
        self.events = events
        self.stop_event = stop_event
        self.phase = phase
        self.progress_interval = progress_interval
        self._start = 0.0
        self._last_progress = 0.0
        self._last_tokens = (0.0, 0)  # (time, tokens) at the previous measurement
        self.tokens_per_second = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.time()
        self._last_tokens = (self._start, 0)
        self.events.emit("progress", phase=self.phase, step=0, max_steps=state.max_steps, epoch=0.0,
                         elapsed=0.0, eta=None, tokens_per_second=0.0)

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop_event.is_set():
            control.should_training_stop = True
        now = time.time()
        if now - self._last_progress >= self.progress_interval or state.global_step >= state.max_steps:
            self._last_progress = now
            self._progress(state, now)
        return control

    def _progress(self, state, now: float) -> None:
        elapsed = now - self._start
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        t0, n0 = self._last_tokens
        if now > t0 and tokens > n0:
            self.tokens_per_second = (tokens - n0) / (now - t0)
            self._last_tokens = (now, tokens)
        step, total = state.global_step, state.max_steps
        eta = elapsed / step * (total - step) if step and total else None
        self.events.emit("progress", phase=self.phase, step=step, max_steps=total,
                         epoch=round(state.epoch or 0.0, 4), elapsed=round(elapsed, 2),
                         eta=round(eta, 1) if eta is not None else None,
                         tokens_per_second=round(self.tokens_per_second, 1), tokens=tokens)

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        if not logs:
            return
        clean = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))}
        if "eval_loss" in clean:
            clean["eval_perplexity"] = math.exp(clean["eval_loss"]) if clean["eval_loss"] < 50 else float("inf")
        clean.update(phase=self.phase, step=state.global_step, epoch=round(state.epoch or 0.0, 4))
        self.events.emit("metrics", **clean)

    def on_train_end(self, args, state, control, **kwargs):
        self._progress(state, time.time())
