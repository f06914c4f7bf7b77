"""EventCallback: turns the trainer's callbacks into events, honours stop requests, and marks
checkpoints whole once the Trainer has written them."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from . import checkpoints
from .budget import EvalBudget
from .events import EventLog


class EventCallback(TrainerCallback):
    """``stop`` is anything with ``is_set()`` (a threading.Event, the run's StopFlag). Under several
    processes every rank runs this callback; the ranks agree on stopping through Accelerate's
    ``reduce`` so that all of them end at the same step, and only the writer's events reach the log."""

    def __init__(self, events: EventLog, stop: Any, phase: str = "train", progress_interval: float = 0.5,
                 world_size: int = 1, budget: EvalBudget | None = None):
        self.events = events
        self.budget = budget
        self.stop_event = stop
        self.phase = phase
        self.progress_interval = progress_interval
        self.world_size = world_size
        self._start = 0.0
        self._last_progress = 0.0
        self._last_tokens = (0.0, 0)  # (time, tokens) at the previous measurement
        self.tokens_per_second = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.time()
        if self.budget is not None:
            self.budget.begin(self._start)
        self._last_tokens = (self._start, state.num_input_tokens_seen or 0)
        self.events.emit("progress", phase=self.phase, step=state.global_step, max_steps=state.max_steps,
                         epoch=round(state.epoch or 0.0, 4), elapsed=0.0, eta=None, tokens_per_second=0.0)
        self._first_step = state.global_step  # a resumed run starts past 0

    def _any_rank(self, flag: bool, device: Any) -> bool:
        """Whether ``flag`` is true on any process (every rank must call this at the same step)."""
        if self.world_size <= 1:
            return flag
        import torch
        from accelerate.utils import reduce

        return bool(reduce(torch.tensor([1.0 if flag else 0.0], device=device), reduction="sum").item() > 0)

    def on_step_end(self, args, state, control, **kwargs):
        if self._any_rank(self.stop_event.is_set(), args.device):
            control.should_training_stop = True
        budget = self.budget
        if budget is not None:
            budget.steps_done = state.global_step - getattr(self, "_first_step", 0)
        now = time.time()
        if now - self._last_progress >= self.progress_interval or state.global_step >= state.max_steps:
            self._last_progress = now
            self._progress(state, now)
        if budget is not None and control.should_evaluate:
            self._within_budget(args, state, control, budget)
        return control

    def _within_budget(self, args, state, control, budget: EvalBudget) -> None:
        """Leave out an automatic evaluation that would take evaluation over its share of the run
        (all ranks agree, as evaluation is collective); time the ones that run."""
        if self._any_rank(budget.skip_evaluation(state.global_step, state.max_steps), args.device):
            control.should_evaluate = False
            budget.skipped += 1
            if budget.skipped == 1:
                self.events.emit("log", level="info", message=(
                    f"Evaluations are spaced out to keep evaluation within {budget.share:.0%} of the run "
                    "(set eval_steps to choose when it evaluates, or eval_budget to change the share)."))
        else:
            budget.eval_started()
            self._timing_eval = True
            self.events.emit("progress", **self._progress_fields(state, time.time()), activity="evaluation loss")
            self._last_progress = time.time()

    def on_evaluate(self, args, state, control, **kwargs):
        if self.budget is not None and getattr(self, "_timing_eval", False):  # one this callback let run
            self._timing_eval = False
            self.budget.eval_ended()

    def _progress(self, state, now: float) -> None:
        self.events.emit("progress", **self._progress_fields(state, now))

    def _progress_fields(self, state, now: float) -> dict[str, Any]:
        elapsed = now - self._start
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        t0, n0 = self._last_tokens
        if now > t0 and tokens > n0:
            self.tokens_per_second = (tokens - n0) / (now - t0)
            self._last_tokens = (now, tokens)
        step, total = state.global_step, state.max_steps
        done = step - getattr(self, "_first_step", 0)
        if self.budget is not None:  # the pace of training alone; the evaluation still to come is added
            train = self.budget.train_seconds(now)
            eta = self.budget.eta(train / done * (total - step) if done > 0 and total else None)
        else:
            eta = elapsed / done * (total - step) if done > 0 and total else None
        return dict(phase=self.phase, step=step, max_steps=total, epoch=round(state.epoch or 0.0, 4),
                    elapsed=round(elapsed, 2), eta=round(eta, 1) if eta is not None else None,
                    tokens_per_second=round(self.tokens_per_second, 1), tokens=tokens)

    def on_log(self, args, state, control, logs: dict[str, Any] | None = None, **kwargs):
        if not logs:
            return
        clean = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))}
        if "eval_loss" in clean:
            from ..metrics import perplexity

            clean["eval_perplexity"] = perplexity(clean["eval_loss"])
        memory = process_memory_gb(args.device, self.world_size)  # every rank logs at the same steps
        if memory:
            clean["process_memory_gb"] = memory
        clean.update(phase=self.phase, step=state.global_step, epoch=round(state.epoch or 0.0, 4))
        self.events.emit("metrics", **clean)

    def on_save(self, args, state, control, **kwargs):
        if args.should_save:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            checkpoints.mark_complete(folder)
            self.events.emit("checkpoint", phase=self.phase, step=state.global_step, folder=str(folder))

    def on_train_end(self, args, state, control, **kwargs):
        self._progress(state, time.time())


def process_memory_gb(device: Any, world_size: int) -> list[float]:
    """Each process's memory in GiB (peak GPU memory on CUDA, resident memory on the CPU), gathered
    from every rank through Accelerate; empty where the machine does not report it."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        value = torch.cuda.max_memory_allocated(device) / 1024**3
    else:
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                import os

                value = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**3
        except (OSError, ValueError, IndexError):
            return []
    if world_size <= 1:
        return [round(value, 3)]
    from accelerate.utils import gather

    return [round(float(v), 3) for v in gather(torch.tensor([value], device=device)).tolist()]
