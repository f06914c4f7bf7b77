"""A run's state, folded from its event log: the one reader of ``events.jsonl``.

``RunState`` holds what happened in a run as plain data (no HTML, no plots): status and
message, progress (step of total, ETA), per-series metric points (train and eval loss,
learning rate, the strategy's own metrics, per phase), log lines, checkpoints, the
evaluation and the final result. The page's RunView, the CLI and the model card all read it.

    state = RunState.for_run(run_id)          # or RunState(run_id=...)
    events, state.offset = read_events(path, state.offset)
    changed = state.feed(events)              # {"status", "progress", "plots", "log", "evaluation"}
    state.series("loss")                      # {"train loss": [(step, value), ...], "eval loss": [...]}
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..runs import ACTIVE

TERMINAL = ("completed", "failed", "stopped", "interrupted")
LOG_LINES = 300  # log lines a state keeps (the newest)


def clock(seconds: float | None) -> str:
    """Seconds as m:ss or h:mm:ss ("–" when unknown)."""
    if seconds is None or not isinstance(seconds, (int, float)) or math.isinf(seconds) or math.isnan(seconds):
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def strategy_metric_keys(strategy: str | None = None) -> tuple[str, ...]:
    """The metrics a strategy plots (TRL's logged keys); every strategy's when none is named."""
    from ..strategies import STRATEGIES

    if strategy:
        cls = STRATEGIES.get(strategy)
        return tuple(getattr(cls, "metric_keys", ()) or ()) if cls else ()
    keys: list[str] = []
    for cls in STRATEGIES.values():
        keys += [k for k in getattr(cls, "metric_keys", ()) if k not in keys]
    return tuple(keys)


def strategy_series(key: str, phase: str | None) -> str:
    """A strategy-metric series name: the key, after the phase of a multi-stage run (RLHF: reward, policy)."""
    return key if phase in (None, "", "train", "final") else f"{phase} · {key}"


def run_strategy(rec: dict[str, Any]) -> str:
    """The strategy a run record trains with (RunConfig's default when the record names none)."""
    from ..config import RunConfig

    return rec.get("strategy") or (rec.get("config") or {}).get("strategy") or RunConfig.model_fields["strategy"].default


def expected_series(rec: dict[str, Any], strategy: str) -> dict[str, tuple[str, ...]]:
    """The series a run's plots will draw, as its strategy declares them (``plotted_phases``): train
    and eval loss (eval when it holds out rows), the learning rate and the strategy's metrics, per phase."""
    from ..config import RunConfig
    from ..strategies import STRATEGIES

    config = rec.get("config") or {}
    evals = bool(config.get("eval_split", RunConfig.model_fields["eval_split"].default))
    cls = STRATEGIES.get(strategy)
    phases = cls().plotted_phases(config) if cls else {"": ()}
    out: dict[str, list[str]] = {"loss": [], "lr": [], "strategy": []}
    for phase, keys in phases.items():
        prefix = f"{phase} " if phase else ""
        out["loss"] += [f"{prefix}train loss"] + ([f"{prefix}eval loss"] if evals else [])
        out["lr"].append(f"{prefix}learning rate")
        out["strategy"] += [strategy_series(k, phase or None) for k in keys if evals or not k.startswith("eval_")]
    return {k: tuple(v) for k, v in out.items()}


def short_ref(ref: str | None) -> str:
    """A model or dataset reference as a list shows it: a sample's name, a folder's name, a Hub id."""
    if not ref:
        return ""
    if ref.startswith("sample:"):
        return ref.split(":", 1)[1]
    p = Path(ref)
    return p.name if (p.is_absolute() or ref.startswith((".", "~"))) else ref


def events_path(rec: dict[str, Any]) -> Path:
    """Where a run record's event log is."""
    from .job import run_dir

    return Path(rec.get("events_path") or run_dir(rec["id"]) / "events.jsonl")


Point = tuple[float, float, str]  # (step, value, series)


@dataclass
class RunState:
    """What happened in one run, folded from its events as they arrive."""

    run_id: str
    name: str = ""
    what: str = ""  # "model on dataset"
    status: str = "queued"
    message: str = ""
    position: int | None = None  # runs ahead of this one in the queue
    phase: str = "train"
    progress: dict[str, Any] = field(default_factory=dict)  # the last progress event (step, max_steps, eta, ...)
    loss: list[Point] = field(default_factory=list)
    lr: list[Point] = field(default_factory=list)
    # the strategy's own metrics (its ``metric_keys``; every strategy's when the strategy is unknown)
    metric_keys: tuple[str, ...] | None = None
    strategy_points: list[Point] = field(default_factory=list)
    # the series each plot will draw from the start (eval loss, the phases of a multi-stage run)
    expected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # plot (loss, lr, strategy) → series
    last_metrics: dict[str, Any] = field(default_factory=dict)  # every metric logged so far, the latest value
    step_metrics: dict[str, Any] = field(default_factory=dict)  # the last metrics event's values
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    log_count: int = 0  # log lines written in all (the deque keeps the newest)
    result: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    error: str | None = None
    checkpoints: list = field(default_factory=list)  # steps of the checkpoints written
    offset: int = 0  # bytes of the event log read so far
    last_event_t: float | None = None

    # ---- building one --------------------------------------------------------------------------
    @classmethod
    def for_run(cls, run_id: str, store=None, **extra: Any) -> "RunState":
        """An empty state for a stored run (its name, what it trains, its strategy's series)."""
        from ..errors import ForgeError
        from ..runs import get_store

        rec = (store or get_store()).get_run(run_id)
        if rec is None:
            raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the history, or start one.")
        return cls.for_record(rec, **extra)

    @classmethod
    def for_record(cls, rec: dict[str, Any], **extra: Any) -> "RunState":
        what = " on ".join(x for x in (short_ref(rec.get("base_model")), short_ref(rec.get("dataset"))) if x)
        strategy = run_strategy(rec)
        return cls(run_id=rec["id"], name=rec.get("name") or rec["id"], status=rec.get("status", "queued"),
                   what=what, metric_keys=strategy_metric_keys(strategy), expected=expected_series(rec, strategy),
                   **extra)

    @classmethod
    def load(cls, rec: dict[str, Any]) -> "RunState":
        """A stored run's state from its whole event log as it is now."""
        from .events import read_events

        state = cls.for_record(rec)
        events, state.offset = read_events(events_path(rec), 0)
        state.feed(events)
        return state

    def read_more(self, path: str | Path) -> tuple[list[dict[str, Any]], set[str]]:
        """Fold what was appended to the event log since the last read: (new events, what changed)."""
        from .events import read_events

        events, self.offset = read_events(path, self.offset)
        return events, self.feed(events)

    def end_from_record(self, rec: dict[str, Any]) -> bool:
        """A run whose process died without a final event: take its end from the store's record.
        Returns whether the state changed."""
        if self.finished or rec.get("status") not in TERMINAL:
            return False
        self.status = rec["status"]
        self.error = self.error or rec.get("error")
        self.result = {"status": rec["status"], "metrics": rec.get("metrics") or {},
                       "output_dir": rec.get("output_dir"), "error": rec.get("error")}
        return True

    # ---- folding events ------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.result is not None or self.status == "interrupted"

    def feed(self, events: list[dict[str, Any]]) -> set[str]:
        """Fold new events in; returns what changed: status, progress, plots, log, evaluation."""
        changed: set[str] = set()
        for ev in events:
            self.last_event_t = ev.get("t", self.last_event_t)
            handler = _HANDLERS.get(ev.get("kind"))
            if handler is not None:
                changed |= handler(self, ev)
        return changed

    def _on_status(self, ev: dict[str, Any]) -> set[str]:
        self.status = ev.get("status", self.status)
        self.message = ev.get("message", "")
        changed = {"status", "log"}
        if self.status in ACTIVE and self.result is not None:  # resumed after it ended
            self.result, self.error = None, None
        if isinstance(ev.get("resume_step"), (int, float)):
            self._rewind(ev["resume_step"])
            changed.add("plots")
        if self.status == "failed" and self.message:
            self.error = self.message
        self._log(ev, f"[{self.status}] {self.message}" if self.message else f"[{self.status}]")
        return changed

    def _on_log(self, ev: dict[str, Any]) -> set[str]:
        level = f"{ev['level'].upper()}: " if ev.get("level") in ("warning", "error") else ""
        self._log(ev, level + str(ev.get("message", "")))
        return {"log"}

    def _on_metrics(self, ev: dict[str, Any]) -> set[str]:
        step = ev.get("step")
        if not isinstance(step, (int, float)):
            return {"plots"}
        phase = ev.get("phase") or "train"
        prefix = "" if phase in ("train", "final") else f"{phase} "
        for key, points, series in (("loss", self.loss, "train loss"), ("eval_loss", self.loss, "eval loss"),
                                    ("learning_rate", self.lr, "learning rate")):
            if _number(ev.get(key)):
                points.append((step, float(ev[key]), prefix + series))
        for key in self.metric_keys if self.metric_keys is not None else strategy_metric_keys():
            if _number(ev.get(key)) and math.isfinite(ev[key]):
                self.strategy_points.append((step, float(ev[key]), strategy_series(key, phase)))
        self.step_metrics = {k: v for k, v in ev.items() if k not in ("t", "kind")}
        self.last_metrics.update(self.step_metrics)
        return {"plots"}

    def _on_progress(self, ev: dict[str, Any]) -> set[str]:
        # while evaluating, the training's last figures (epoch, tokens/s) stay beside what it does
        self.progress = {**self.progress, **ev} if ev.get("activity") else ev
        return {"progress"}

    def _on_phase(self, ev: dict[str, Any]) -> set[str]:
        self.phase = ev.get("name", self.phase)
        index = ev.get("index")
        self._log(ev, f"Phase {index + 1 if isinstance(index, int) else '?'}/{ev.get('total', '?')}: {self.phase}")
        return {"progress", "log"}

    def _on_checkpoint(self, ev: dict[str, Any]) -> set[str]:
        self.checkpoints.append(ev.get("step"))
        self._log(ev, f"Checkpoint saved at step {ev.get('step')}.")
        return {"log"}

    def _on_evaluation(self, ev: dict[str, Any]) -> set[str]:
        self.evaluation = {k: v for k, v in ev.items() if k not in ("t", "kind")}
        return {"evaluation"}

    def _on_result(self, ev: dict[str, Any]) -> set[str]:
        self.result = ev
        self.status = ev.get("status", self.status)
        if ev.get("error"):
            self.error = ev["error"]
        return {"status", "progress"}

    def _rewind(self, step: float) -> None:
        """Drop the points logged after ``step``: a resumed run trains them again from its checkpoint."""
        self.loss = [p for p in self.loss if p[0] <= step]
        self.lr = [p for p in self.lr if p[0] <= step]
        self.strategy_points = [p for p in self.strategy_points if p[0] <= step]
        self.progress = {}

    def _log(self, ev: dict[str, Any], text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ev.get("t") or time.time()))
        for i, line in enumerate(text.splitlines() or [""]):
            self.log.append(f"{stamp}  {line}" if i == 0 else f"          {line}")
            self.log_count += 1

    # ---- reading it ----------------------------------------------------------------------------
    def points(self, plot: str) -> list[Point]:
        """The (step, value, series) points of a plot: "loss", "lr" or "strategy"."""
        return {"loss": self.loss, "lr": self.lr, "strategy": self.strategy_points}[plot]

    def series(self, plot: str) -> dict[str, list[tuple[float, float]]]:
        """A plot's points by series, in the order the series first appeared."""
        out: dict[str, list[tuple[float, float]]] = {}
        for step, value, name in self.points(plot):
            out.setdefault(name, []).append((step, value))
        return out

    def new_log_lines(self, since: int) -> list[str]:
        """The log lines written after the first ``since`` (as many as the state still keeps)."""
        n = min(self.log_count - since, len(self.log))
        return list(self.log)[-n:] if n > 0 else []

    def latest(self, suffix: str) -> float | None:
        """The last loss value of the series ending with ``suffix`` ("train loss", "eval loss")."""
        return next((v for _s, v, n in reversed(self.loss) if n.endswith(suffix)), None)

    def progress_fraction(self) -> float:
        if self.status == "completed":
            return 1.0
        step, total = self.progress.get("step") or 0, self.progress.get("max_steps") or 0
        return max(0.0, min(1.0, step / total)) if total else 0.0

    def final_metrics(self) -> dict[str, float]:
        """The finished run's numeric final metrics (empty before it ends)."""
        metrics = (self.result or {}).get("metrics") or {}
        return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def history(self) -> dict[str, list[list[float]]]:
        """Metric history by key, as the API gives it: loss, eval_loss, learning_rate, strategy series."""
        out: dict[str, list[list[float]]] = collections.defaultdict(list)
        for step, value, series in self.loss:
            out["eval_loss" if series.endswith("eval loss") else "loss"].append([step, value])
        for step, value, _series in self.lr:
            out["learning_rate"].append([step, value])
        for step, value, series in self.strategy_points:
            out[series].append([step, value])
        return dict(out)

    def update(self, new_events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A JSON-ready progress update for API clients."""
        p = self.progress
        numbers = {k: v for k, v in self.last_metrics.items() if isinstance(v, (int, float))}
        return {
            "run_id": self.run_id, "name": self.name, "status": self.status, "message": self.message,
            "queue_position": self.position, "finished": self.finished,
            "step": p.get("step"), "max_steps": p.get("max_steps"), "epoch": p.get("epoch"), "eta": p.get("eta"),
            "tokens_per_second": p.get("tokens_per_second"),
            "loss": self.latest("train loss"), "eval_loss": self.latest("eval loss"),
            "learning_rate": self.lr[-1][1] if self.lr else None,
            "metrics": (self.result or {}).get("metrics") or numbers,
            "output_dir": (self.result or {}).get("output_dir"), "error": self.error,
            "evaluation": self.evaluation,
            "events": list(new_events or []),
        }


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_HANDLERS: dict[str, Callable[[RunState, dict[str, Any]], set[str]]] = {
    "status": RunState._on_status,
    "log": RunState._on_log,
    "metrics": RunState._on_metrics,
    "progress": RunState._on_progress,
    "phase": RunState._on_phase,
    "checkpoint": RunState._on_checkpoint,
    "evaluation": RunState._on_evaluation,
    "result": RunState._on_result,
}
