"""Section 5 of the Finetune tab: past runs, and the selected one's detail (plots, config, final
metrics) with its actions: use its config again, resume it, delete it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ...errors import ForgeError
from ...history import reusable_config
from ...training.state import clock, short_ref
from .. import run_view
from ..run_view import run_detail
from ..tables import HISTORY_HEADERS, evaluation_markdown, history_rows, md_code, md_text, tensorboard_markdown
from ..widgets import LOSS_COLORS, LR_COLORS, friendly_error, series_plot
from .data import WHERE
from .form import Form, fill_form

SELECT_FIRST = "Select a run in the history first."


@dataclass
class HistoryPanel:
    refresh: gr.Button
    table: gr.Dataframe
    selected: gr.State  # the selected run's id
    detail_box: gr.Accordion
    detail: gr.Markdown
    loss_plot: gr.LinePlot
    lr_plot: gr.LinePlot
    strategy_plot: gr.LinePlot
    config: gr.Code
    metrics: gr.JSON
    use_again: gr.Button
    resume_steps: gr.Textbox
    resume: gr.Button
    delete: gr.Button

    @property
    def detail_outputs(self) -> list[gr.components.Component]:
        return [self.selected, self.detail, self.loss_plot, self.lr_plot, self.config, self.metrics, self.detail_box,
                self.strategy_plot]


def history_frame(rows=None):
    """The history table (every run, newest first; ``rows`` given: those)."""
    import pandas as pd

    return pd.DataFrame(history_rows() if rows is None else rows, columns=HISTORY_HEADERS)


def _run_detail() -> tuple:
    with gr.Accordion("Selected run", open=False) as box:
        detail = gr.Markdown("Select a run in the table.", elem_id="mf-run-detail")
        with gr.Row():
            loss = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss", color_map=LOSS_COLORS,
                               height=240)
            lr = gr.LinePlot(None, x="step", y="learning_rate", color="series", title="Learning rate",
                             color_map=LR_COLORS, height=240)
        strategy = gr.LinePlot(None, x="step", y="value", color="series", title="Strategy metrics", height=240)
        with gr.Row():
            config = gr.Code("", language="yaml", label="Config (as trained, profile defaults filled in)",
                             interactive=False)
            metrics = gr.JSON(label="Final metrics")
        with gr.Row():
            use_again = gr.Button("Use this config again", size="sm", elem_id="mf-use-again")
            steps = gr.Textbox("", label="Train until step", placeholder="as set",
                               info="empty: the steps it was set to; more to train a finished run further",
                               elem_id="mf-resume-steps", scale=1)
            resume = gr.Button("Resume from last checkpoint", size="sm", elem_id="mf-resume")
            delete = gr.Button("Delete run and checkpoints", size="sm", variant="stop", elem_id="mf-delete-run")
    return box, detail, loss, lr, strategy, config, metrics, use_again, steps, resume, delete


def history_panel() -> HistoryPanel:
    """The table and the selected run (inside section 5's group, which also holds Compare and Storage)."""
    gr.Markdown("### 5 · History")
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="mf-history-refresh")
    table = gr.Dataframe(history_frame([]), interactive=False, max_height=320, elem_id="mf-history", wrap=True,
                         label="Past runs (select one to see it)")
    selected = gr.State(None)
    box, detail, loss, lr, strategy, config, metrics, use_again, steps, resume, delete = _run_detail()
    return HistoryPanel(refresh, table, selected, box, detail, loss, lr, strategy, config, metrics, use_again, steps,
                        resume, delete)


# ---- handlers ---------------------------------------------------------------------------------

def detail_markdown(d: dict[str, Any]) -> str:
    """A run's detail as text: what it trained, where it saved, its devices, checkpoints, error,
    TensorBoard folder and end-of-run evaluation."""
    dur = clock(d["duration_s"]) if d["duration_s"] is not None else "–"
    lines = [f"**{md_text(d['name'])}** · `{d['id']}` · {d['status']} · "
             f"{md_text(short_ref(d['model']))} · {d['task'] or '–'} · {d['strategy']} · {dur}",
             f"Dataset: {md_code(d['dataset'])}"]
    if d.get("output_dir"):
        lines.append(f"Saved to {md_code(d['output_dir'])}"
                     + ("" if Path(d["output_dir"]).exists() else " (since deleted)"))
    lines.append(f"Devices: {d['devices']}")
    if d.get("checkpoints"):
        lines.append("Checkpoints: " + ", ".join(f"{c['name']} ({c['size']})" for c in d["checkpoints"]))
    text = "  \n".join(lines)
    text += f"\n\n```\n{d['error']}\n```" if d.get("error") else ""
    text += "\n\n" + tensorboard_markdown(d.get("tensorboard_dir"))
    return text + ("\n\n" + evaluation_markdown(d["evaluation"]) if d.get("evaluation") else "")


def show_run(h: HistoryPanel, run_id: str | None) -> dict:
    """The detail of run ``run_id`` (its plots, config as trained, final metrics)."""
    import yaml

    if not run_id:
        return gr.skip()
    try:
        d = run_detail(run_id)
    except Exception as e:
        return {h.selected: run_id, h.detail: friendly_error(e, WHERE), h.detail_box: gr.update(open=True)}
    view = d.pop("_view")
    return {h.selected: run_id, h.detail: detail_markdown(d), h.loss_plot: series_plot(view.loss_frame()),
            h.lr_plot: series_plot(view.lr_frame()), h.strategy_plot: series_plot(view.strategy_frame()),
            h.config: d["resolved_config_yaml"] or yaml.safe_dump(d["config"], sort_keys=False),
            h.metrics: d["metrics"], h.detail_box: gr.update(open=True)}


def on_select(h: HistoryPanel, evt: gr.SelectData) -> dict:
    """A row of the table selected: its run's detail (the run id is the last column)."""
    row = evt.row_value or []
    return show_run(h, row[-1] if row else None)


def resume_run(run_id: str | None, steps: str | None) -> str:
    """Resume the selected run (until step ``steps`` when given); what happened, in words."""
    if not run_id:
        raise ForgeError(SELECT_FIRST)
    steps = (steps or "").strip()
    if steps and not steps.isdigit():
        raise ForgeError(f"Train until step: '{steps}' is not a whole number.", "Type a step, or leave it empty.")
    rec = run_view.resume(run_id, max_steps=int(steps) if steps else None)
    return f"Run {rec['name']} resumes from {Path(rec['resume_from']).name}; it shows in Live run."


def on_resume(run_id: str | None, steps: str | None):
    try:
        gr.Info(resume_run(run_id, steps))
    except Exception as e:
        gr.Warning(friendly_error(e, WHERE))
        return gr.skip()
    return history_frame()


def on_delete_run(h: HistoryPanel, run_id: str | None) -> dict:
    """Delete the selected run (its record, events and checkpoints; its model stays)."""
    from ...housekeeping import delete_run

    if not run_id:
        gr.Warning(SELECT_FIRST)
        return gr.skip()
    try:
        r = delete_run(run_id)
    except Exception as e:
        gr.Warning(friendly_error(e, WHERE))
        return gr.skip()
    gr.Info(f"Deleted run {r['name']}: {r['freed']} freed"
            + ("; its model stays on the Models tab." if r["kept_model"] else "."))
    return {h.table: history_frame(), h.selected: None}


def on_use_again(f: Form, run_id: str | None) -> dict:
    """The form set to the selected run's config."""
    if not run_id:
        gr.Warning(SELECT_FIRST)
        return gr.skip()
    try:
        out = fill_form(f, reusable_config(run_id))
    except Exception as e:
        gr.Warning(friendly_error(e, WHERE))
        return gr.skip()
    gr.Info("The form now holds that run's config. Press Start training to run it again.")
    return out
