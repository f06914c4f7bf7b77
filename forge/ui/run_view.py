"""A run as the Finetune tab shows it: ``RunView`` presents the engine's ``RunState`` as plot
frames, a progress bar, status Markdown and log text; ``follow`` streams it while the run goes
on; and the page's run controls (submit, stop, resume, the run a fresh page shows).
"""

from __future__ import annotations

import asyncio
import collections
import html
import math
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from ..config import RunConfig, parse_config
from ..training.state import TERMINAL, RunState, clock
from .inputs import check_dataset_ref, check_model_ref
from .tables import _md_table, _num, md_code, md_text

MAX_PLOT_POINTS = 1000  # a plot gets at most this many points per series, however long the run
FINAL_METRICS = ("train_loss", "loss", "eval_loss", "eval_perplexity", "train_runtime", "train_samples_per_second")
ACTIVE_RUN_TTL = 1.0
_active_run: list = [-1e9, None]


def _thin(points: list[tuple], limit: int = MAX_PLOT_POINTS) -> list[tuple]:
    """At most ``limit`` points, evenly spaced, always keeping the last."""
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    out = points[::stride]
    if out[-1] is not points[-1]:
        out.append(points[-1])
    return out


@dataclass
class RunView(RunState):
    """A run's state (folded by the engine's ``RunState``) with what the page shows of it."""

    def _series_frame(self, points: list[tuple], value: str, plot: str):
        """(step, value, series) points as a plot's frame, thinned per series, with an empty point
        (NaN, not drawn) for each series still to come."""
        import pandas as pd

        by_series: dict[str, list[tuple]] = collections.defaultdict(list)
        for p in points:
            by_series[p[2]].append(p)
        rows = [p for pts in by_series.values() for p in _thin(pts)]
        if rows:
            rows += [(rows[0][0], math.nan, name) for name in self.expected.get(plot, ()) if name not in by_series]
        return pd.DataFrame(rows, columns=["step", value, "series"])

    def loss_frame(self):
        return self._series_frame(self.loss, "loss", "loss")

    def strategy_frame(self):
        """The strategy's own metrics against step: one series per metric and phase."""
        return self._series_frame(self.strategy_points, "value", "strategy")

    def lr_frame(self):
        return self._series_frame(self.lr, "learning_rate", "lr")

    def log_text(self) -> str:
        return "\n".join(self.log)

    def progress_text(self) -> str:
        p = self.progress
        if not p:
            return {"queued": "Waiting in the queue…", "running": "Preparing: reading data, loading the model…"}.get(
                self.status, "")
        activity = p.get("activity") if self.status == "running" else None
        if activity:  # evaluating: what, how far, and the clock still running
            done = f" {p['done']} / {p['total']}" if p.get("total") else ""
            parts = [f"{str(activity).capitalize()}{done}", f"after step {p.get('step', 0)} / {p.get('max_steps') or '?'}",
                     f"ETA {clock(p.get('eta'))}", f"elapsed {clock(p.get('elapsed'))}"]
            return " · ".join(parts)
        parts = [f"Step {p.get('step', 0)} / {p.get('max_steps') or '?'}",
                 f"epoch {float(p.get('epoch') or 0):.2f}",
                 f"ETA {clock(p.get('eta')) if self.status == 'running' else '–'}",
                 f"{float(p.get('tokens_per_second') or 0):,.0f} tokens/s",
                 f"elapsed {clock(p.get('elapsed'))}"]
        memory = self.last_metrics.get("process_memory_gb")
        if isinstance(memory, list) and memory:
            parts.append(("memory " if len(memory) == 1 else f"memory per process ({len(memory)}) ")
                         + " / ".join(f"{float(m):.1f}" for m in memory) + " GiB")
        if self.phase and self.phase != "train":
            parts.insert(0, f"phase {self.phase}")
        return " · ".join(parts)

    def progress_html(self) -> str:
        pct = self.progress_fraction() * 100
        state = self.status if self.status in TERMINAL else "active"
        return (f'<div class="mf-progress mf-{state}" data-status="{html.escape(self.status)}" '
                f'data-step="{int(self.progress.get("step") or 0)}">'
                f'<div class="mf-bar"><div class="mf-fill" style="width:{pct:.1f}%"></div></div>'
                f'<div class="mf-progress-text">{html.escape(self.progress_text())}</div></div>')

    def status_markdown(self) -> str:
        icon = {"queued": "…", "running": "▶", "completed": "✓", "failed": "✗", "stopped": "■",
                "interrupted": "⚠"}.get(self.status, "•")
        word = {"queued": "Queued", "running": "Evaluating" if self.progress.get("activity") else "Training",
                "completed": "Completed", "failed": "Failed", "stopped": "Stopped",
                "interrupted": "Interrupted"}.get(self.status, self.status)
        head = (f"{icon} **{word}** · run {md_code(self.name or self.run_id)}"
                + (f" · {md_text(self.what)}" if self.what else ""))
        detail = ""
        if self.status == "queued":
            if self.position:
                detail = f"Position in the queue: {self.position} run(s) ahead of this one."
            else:
                detail = self.message or "Starting…"
        elif self.status == "running":
            detail = self.message if self.message and self.message != "Run started" else ""
        elif self.status == "completed":
            out = (self.result or {}).get("output_dir")
            loss = (self.result or {}).get("metrics", {}).get("loss")
            detail = "Run completed." + (f" Final training loss {loss:.4f}." if isinstance(loss, (int, float)) else "") \
                + (f" Saved to {md_code(out)}." if out else "")
        elif self.status == "stopped":
            detail = self.message or "Run stopped."
        elif self.status == "interrupted":
            detail = self.message
        elif self.status == "failed":
            detail = "See the error below."
        return head + (f"  \n{detail}" if detail else "")



def log_html(lines) -> str:
    """The log tail as HTML (escaped), newest line last."""
    body = html.escape("\n".join(lines)) if lines else "The run's log appears here."
    return f'<pre class="mf-log-pre">{body}</pre>'


def final_metrics_markdown(view: RunState) -> str:
    """A finished run's final metrics, as one table row (the keys runs report first)."""
    metrics = view.final_metrics()
    if not metrics:
        return ""
    keys = [k for k in FINAL_METRICS if k in metrics] + sorted(k for k in metrics if k not in FINAL_METRICS)
    return "**Final metrics**\n\n" + _md_table(["Metric", "Value"], [[k, _num(metrics[k], "{:.4g}")]
                                                                     for k in keys[:8]])


def new_view(run_id: str) -> RunView:
    """An empty view of a stored run (ForgeError when there is no such run)."""
    return RunView.for_run(run_id)


def run_detail(run_id: str) -> dict[str, Any]:
    """The engine's run detail (``forge.history.run_detail``), its state as a RunView under ``"_view"``."""
    from ..history import run_detail as detail

    d = detail(run_id, state_type=RunView)
    d["_view"] = d.pop("_state")
    return d


# ---- following a run's event log -------------------------------------------------------------

async def follow(run_id: str, *, poll: float = 0.2, heartbeat: float = 10.0,
                 until: Callable[[], bool] | None = None,
                 ) -> AsyncIterator[tuple[RunView, list[dict[str, Any]], set[str]]]:
    """Follow a run's event log from the start to its end, reading only what was appended.

    Yields ``(view, new_events, changed)`` whenever something changed (and every
    ``heartbeat`` seconds otherwise); the last yield has ``view.finished`` true. ``until``,
    checked at every poll, ends the following early when it returns true.
    """
    from ..runs import get_store
    from ..training import get_queue
    from ..training.state import events_path

    view = new_view(run_id)
    path = events_path(get_store().get_run(run_id) or {"id": run_id})
    queue = get_queue()
    last_yield, last_store_check, first = 0.0, time.monotonic(), True
    while not (until is not None and until()):
        events, changed = view.read_more(path)
        if view.status == "queued":
            changed |= _queue_position(view, queue)
        now = time.monotonic()
        if not view.finished and not events and now - last_store_check > 5.0:
            last_store_check = now
            events, more = _end_from_store(view, path)
            changed |= more
        if first or changed or now - last_yield >= heartbeat:
            first, last_yield = False, now
            yield view, events, changed or {"heartbeat"}
        if view.finished:
            return
        await asyncio.sleep(poll)


def _queue_position(view: RunState, queue) -> set[str]:
    pos = queue.position(view.run_id)
    if pos == view.position:
        return set()
    view.position = pos
    return {"status"}


def _end_from_store(view: RunState, path) -> tuple[list[dict[str, Any]], set[str]]:
    """A run whose process died without a final event: trust the store's record of its end."""
    from ..runs import get_store

    rec = get_store().get_run(view.run_id) or {}
    if rec.get("status") not in TERMINAL:
        return [], set()
    events, changed = view.read_more(path)
    if view.end_from_record(rec):
        changed.add("status")
    return events, changed


# ---- run controls ----------------------------------------------------------------------------

def start_label() -> str:
    """What Start will do: start at once, or queue behind the runs ahead (one trains at a time)."""
    from ..training import get_queue

    ahead = len(get_queue().active_ids())
    if not ahead:
        return "Start training"
    return "Queue after the current run" if ahead == 1 else f"Queue after {ahead} runs"


def find_active_run() -> str | None:
    """The run a freshly opened page should show: the one training now, else the next queued,
    whichever process (this server, another, the CLI) queued it."""
    from ..training import get_queue

    now = time.monotonic()
    cached_at, cached = _active_run
    if now - cached_at < ACTIVE_RUN_TTL:  # every open page asks twice a second: read the store less often
        return cached
    ids = get_queue().active_ids()
    found = ids[0] if ids else None
    _active_run[:] = [now, found]
    return found


def last_ended_run() -> str | None:
    """The newest run when it has ended (what the live area keeps showing until the next starts)."""
    from ..runs import get_store

    runs = get_store().list_runs()
    return runs[0]["id"] if runs and runs[0].get("status") in TERMINAL else None



def prepare_submission(config: RunConfig | dict[str, Any]) -> RunConfig:
    """A config from the page or the API, checked against the sandbox (model and dataset paths)."""
    cfg = parse_config(config)
    model = check_model_ref(cfg.model_name)
    dataset = check_dataset_ref(cfg.dataset)
    reward = getattr(cfg, "reward_model", None)
    if reward:
        from ..runs import get_store

        if get_store().get_run(reward) is None:  # a run id names a reward model the server trained
            reward = check_model_ref(reward)
    if model != cfg.model_name or dataset != cfg.dataset or reward != getattr(cfg, "reward_model", None):
        cfg = cfg.with_changes(model_name=model, dataset=dataset, **({"reward_model": reward} if reward else {}))
    return cfg


def submit(config: RunConfig | dict[str, Any], dataset_name: str | None = None) -> dict[str, Any]:
    """Check a config from the page or the API and queue it (sandboxed). Returns the run record."""
    from ..training import get_queue

    cfg = prepare_submission(config)
    return get_queue().submit(cfg, sandbox=True, dataset_name=dataset_name)


def stop(run_id: str | None = None, now: bool = False) -> dict[str, Any]:
    """Stop a run (the current one when no id is given): at the next step; at once when ``now``
    or when Stop was already pressed."""
    from ..training import get_queue

    q = get_queue()
    run_id = (run_id or "").strip() or (q.active_ids() or [None])[0]
    if not run_id:
        return {"run_id": None, "result": "no run is active"}
    _active_run[0] = -1e9
    return {"run_id": run_id, "result": q.stop(run_id, now=bool(now))}


def resume(run_id: str, max_steps: int | None = None, num_train_epochs: float | None = None) -> dict[str, Any]:
    """Resume a stopped, failed or interrupted run from its last checkpoint, or train a finished
    one further (a larger max_steps or num_train_epochs). Returns the run's record."""
    from ..training import get_queue

    _active_run[0] = -1e9
    return get_queue().resume(run_id, max_steps=max_steps, num_train_epochs=num_train_epochs)


