"""Section 4 of the Finetune tab: Start and Stop, and the run as it trains (status, progress,
loss / learning-rate / strategy plots, log, and at its end the final metrics and evaluation).

Each open page runs one watcher (started on page load) that streams the run the page asked for,
else the active run, and then waits for the next one: reloading the page, or opening it in a
second browser, re-attaches to the live run. Start points the page's watcher at the new run
through ``LivePanel.targets`` (page session -> run id)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ...errors import ForgeError
from ...history import tensorboard_dir
from .. import run_view
from ..form import form_to_config
from ..run_view import (
    RunView,
    final_metrics_markdown,
    find_active_run,
    follow,
    last_ended_run,
    log_html,
    start_label,
    submit,
)
from ..tables import evaluation_markdown, md_code, tensorboard_markdown
from ..widgets import LOSS_COLORS, LR_COLORS, friendly_error, plot_value, series_names, series_plot
from .data import WHERE
from .form import Form
from .history import history_frame

RECORD_WAIT_S = 5.0  # how long an ended run's log may be ahead of its record in the store
IDLE_PING_S = 5.0  # an idle page gets an empty update this often, so a closed page ends its watcher
DOUBLE_CLICK_S = 3.0  # a second Start this soon with the same settings is a double click, not a second run


async def recorded_end(rid: str, timeout: float = RECORD_WAIT_S, store=None) -> None:
    """Wait until the store records the end the run's log already shows (a run logs its end, then
    records it): the history read next then lists the run as ended, not still running."""
    from ...runs import ACTIVE, get_store

    store = store or get_store()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = await asyncio.to_thread(store.get_run, rid)
        if rec is None or rec.get("status") not in ACTIVE:
            return
        await asyncio.sleep(0.05)


@dataclass
class LivePanel:
    start: gr.Button
    stop: gr.Button
    status: gr.Markdown
    progress: gr.HTML
    error: gr.Textbox
    loss_plot: gr.LinePlot
    lr_plot: gr.LinePlot
    strategy_plot: gr.LinePlot
    log: gr.HTML
    end: gr.Markdown  # the ended run's final metrics, evaluation and TensorBoard folder
    run_id: gr.State  # the run on screen (Stop's target)
    targets: dict[str, str] = field(default_factory=dict)  # page session -> the run its watcher shows next
    last_start: dict[str, tuple[str, float]] = field(default_factory=dict)  # page session -> (settings, time)

    @property
    def plots(self) -> list[gr.LinePlot]:
        return [self.loss_plot, self.lr_plot, self.strategy_plot]

    @property
    def shown(self) -> list[gr.components.Component]:
        """What the watcher fills."""
        return [self.run_id, self.status, self.progress, self.error, *self.plots, self.log, self.end]


def live_panel() -> LivePanel:
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### 4 · Live run")
        with gr.Row():
            start = gr.Button("Start training", variant="primary", interactive=False, elem_id="mf-start", scale=3)
            stop = gr.Button("Stop", variant="stop", elem_id="mf-stop", scale=1)
        status = gr.Markdown("No run is active. Configure a run and press **Start training**.", elem_id="mf-status")
        progress = gr.HTML("", elem_id="mf-progress")
        error = gr.Textbox(label="Error", visible=False, interactive=False, lines=3, elem_classes="mf-error",
                           elem_id="mf-error")
        with gr.Row():
            loss = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss", color_map=LOSS_COLORS,
                               height=260, elem_id="mf-loss-plot")
            lr = gr.LinePlot(None, x="step", y="learning_rate", color="series", title="Learning rate",
                             color_map=LR_COLORS, height=260, elem_id="mf-lr-plot")
        # the strategy's own metrics (reward margins and accuracy, mean reward...), one color per
        # metric and phase (RLHF: the reward model's, then the policy's)
        strategy = gr.LinePlot(None, x="step", y="value", color="series", title="Strategy metrics", height=260,
                               elem_id="mf-strategy-plot")
        log = gr.HTML(log_html([]), max_height=280, autoscroll=True, container=True, show_label=False,
                      elem_classes="mf-log", elem_id="mf-log")
        end = gr.Markdown("", elem_id="mf-run-end")
    return LivePanel(start, stop, status, progress, error, loss, lr, strategy, log, end, gr.State(None))


# ---- handlers ---------------------------------------------------------------------------------

def start_state(data_ready: bool, settings_ok: bool):
    """Start is on when the data is ready and the settings make a valid config."""
    return gr.update(interactive=bool(data_ready and settings_ok), value=start_label())


def end_markdown(view: RunView) -> str:
    """At the end of a run: its evaluation (base vs fine-tuned, a few before/after answers)
    and where its TensorBoard logs are."""
    parts = [final_metrics_markdown(view)] if view.finished else []
    parts += [evaluation_markdown(view.evaluation)] if view.evaluation else []
    if view.finished:
        parts.append(tensorboard_markdown(tensorboard_dir({"id": view.run_id})))
    return "\n\n".join(parts)


def render(p: LivePanel, view: RunView, changed: set[str], *, full: bool = False) -> dict:
    """The live widgets that ``changed`` (kinds of news from :func:`follow`) touches; all with ``full``."""
    c = changed | ({"status", "progress", "plots", "log"} if full else set())
    out: dict[Any, Any] = {p.run_id: view.run_id}
    if "status" in c:
        out[p.status] = view.status_markdown()
        out[p.error] = gr.update(value=view.error or "", visible=bool(view.error))
    if c & {"status", "progress"}:
        out[p.progress] = view.progress_html()
    if "plots" in c:
        out.update({p.loss_plot: plot_value(view.loss_frame()), p.lr_plot: plot_value(view.lr_frame()),
                    p.strategy_plot: plot_value(view.strategy_frame())})
    if "log" in c:
        out[p.log] = log_html(view.log)
    if c & {"status", "evaluation"}:
        out[p.end] = end_markdown(view)
    return out


class Watcher:
    """One open page's stream of the live widgets (see the module's docstring)."""

    def __init__(self, p: LivePanel, history: gr.Dataframe, run_finished: gr.Textbox, session: str):
        self.p, self.history, self.run_finished, self.session = p, history, run_finished, session
        self.idle_shown, self.last_done, self.last_yield = False, None, time.monotonic()
        self.plot_values: dict[Any, Any] = {}
        self.series: dict[Any, list[str]] = {}

    def keep_plots(self, out: dict) -> dict:
        """A streamed output is sent as a diff of its previous value: a plot left out after it was
        filled keeps a value without its data types, and its resize handler then raises in the
        browser (on switching tabs). The plots get their last value again instead (an unchanged value
        costs nothing on the wire); a plot with a new series (the first eval loss) is redrawn with it."""
        for plot in self.p.plots:
            if plot not in out:
                out[plot] = self.plot_values.get(plot)
                continue
            self.plot_values[plot] = out[plot]
            names = series_names(out[plot])
            if names != self.series.get(plot, []):
                self.series[plot] = names
                out[plot] = series_plot(out[plot])
        return out

    def next_run(self, replay: bool) -> tuple[str | None, bool]:
        """The run to show (the one Start asked for, else the active one), and whether it is the last
        ended run shown again on opening the page (``replay``: a page opened with no run active)."""
        rid = self.p.targets.pop(self.session, None)
        if rid is None:
            active = find_active_run()
            rid = active if active != self.last_done else None
        if rid is None and replay:
            rid = last_ended_run()
            return rid, rid is not None
        return rid, False

    def idle(self) -> dict | None:
        now = time.monotonic()
        if not self.idle_shown:
            self.idle_shown, self.last_yield = True, now
            return self.keep_plots({self.history: history_frame()})
        if now - self.last_yield > IDLE_PING_S:  # lets the server notice a closed page and end this watcher
            self.last_yield = now
            return self.keep_plots({})
        return None

    async def stream(self, rid: str, replayed: bool):
        """Follow one run to its end; the ended run stays on screen (plots, metrics, log, status) until
        the next starts. One shown again on opening the page is not news for the other tabs."""
        self.idle_shown, first, view = True, True, None
        try:
            async for view, _events, changed in follow(rid, heartbeat=IDLE_PING_S,
                                                             until=lambda: self.session in self.p.targets):
                out = render(self.p, view, changed, full=first)
                if first:
                    out[self.history] = history_frame()
                first = False
                yield self.keep_plots(out)
        except ForgeError as e:
            yield self.keep_plots({self.p.error: gr.update(value=str(e), visible=True)})
            await asyncio.sleep(1.0)
            return
        if view is not None and view.finished:
            self.last_done = rid
            await recorded_end(rid)
            out = {self.history: history_frame()} | ({} if replayed else {self.run_finished: rid})
            yield self.keep_plots(out)

    async def run(self):
        replay = True
        while True:
            rid, replayed = self.next_run(replay)
            replay = False
            if rid is None:
                update = self.idle()
                if update is not None:
                    yield update
                await asyncio.sleep(0.5)
                continue
            async for out in self.stream(rid, replayed):
                yield out


async def watch(p: LivePanel, history: gr.Dataframe, run_finished: gr.Textbox, request: gr.Request):
    """The page's watcher: the live widgets, the history table, and ``run_finished`` when a run ends."""
    session = request.session_hash or ""
    try:
        async for out in Watcher(p, history, run_finished, session).run():
            yield out
    finally:
        p.targets.pop(session, None)


def on_start(p: LivePanel, f: Form, request: gr.Request, got: dict):
    """Queue a run with the form's settings and point the page's watcher at it."""
    values, name = f.values(got), f.dataset_name(got)
    session = request.session_hash or ""
    try:
        config = form_to_config(values)
        key = config.model_dump_json() + (name or "")
        previous = p.last_start.get(session)
        if previous and previous[0] == key and time.monotonic() - previous[1] < DOUBLE_CLICK_S:
            return gr.skip()
        p.last_start[session] = (key, time.monotonic())
        rec = submit(config, dataset_name=name)
    except Exception as e:
        return {p.error: gr.update(value=f.name_fields(friendly_error(e, WHERE)), visible=True)}
    p.targets[session] = rec["id"]
    return {p.error: gr.update(value="", visible=False), p.status: f"… **Queued** · run {md_code(rec['name'])}"}


STOP_NOTES = {"stopping": "Stopping: the run ends after the current step and keeps what it learned. "
                          "Press Stop again to end it at once.",
              "killed": "The run's processes were ended at once; its last checkpoint is kept and it can be resumed.",
              "cancelled": "The queued run was cancelled."}


def stop_note(run_id: str | None) -> tuple[str, bool]:
    """Stop the run on screen (else the active one): what was done, and whether it went wrong."""
    try:
        r = run_view.stop(run_id)
    except Exception as e:
        return friendly_error(e, WHERE), True
    if r["run_id"] is None:
        return "No run is active.", False
    return STOP_NOTES.get(r["result"], f"That run is {r['result']}."), False


def on_stop(run_id: str | None) -> None:
    """Stop, said in a toast."""
    note, failed = stop_note(run_id)
    (gr.Warning if failed else gr.Info)(note)
