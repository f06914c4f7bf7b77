"""Section 5's two accordions: runs compared side by side, and the server's stored files
(uploaded datasets, download archives) with their sizes, to delete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...history import COMPARED_CURVES, compare_runs, list_runs
from ..tables import md_code, md_text
from ..widgets import friendly_error, plot_value
from .data import WHERE

STORAGE_HEADERS = ["What", "Name", "Size"]


@dataclass
class ComparePanel:
    box: gr.Accordion
    pick: gr.Dropdown
    button: gr.Button
    status: gr.Markdown
    plots: dict[str, gr.LinePlot]  # COMPARED_CURVES key -> its plot
    metrics: gr.Dataframe
    settings: gr.Dataframe

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.status, *self.plots.values(), self.metrics, self.settings]


@dataclass
class StoragePanel:
    box: gr.Accordion
    table: gr.Dataframe
    pick: gr.Dropdown
    button: gr.Button
    result: gr.Markdown

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.table, self.pick, self.result]


def compare_panel() -> ComparePanel:
    with gr.Accordion("Compare runs", open=False) as box:
        with gr.Row():
            pick = gr.Dropdown([], multiselect=True, label="Runs to compare (two or more)", scale=4,
                               elem_id="mf-compare-pick")
            button = gr.Button("Compare", size="sm", scale=1, elem_id="mf-compare-btn")
        status = gr.Markdown("", elem_id="mf-compare-status")
        with gr.Row():
            titles = {"loss": ("Training loss", "mf-compare-loss"), "eval_loss": ("Eval loss", "mf-compare-eval"),
                      "learning_rate": ("Learning rate", "mf-compare-lr")}
            plots = {k: gr.LinePlot(None, x="step", y="value", color="run", title=titles.get(k, (k, None))[0],
                                    height=240, elem_id=titles.get(k, (k, None))[1])
                     for k in COMPARED_CURVES}
        with gr.Row():
            metrics = gr.Dataframe(interactive=False, wrap=True, max_height=300, label="Final metrics",
                                   elem_id="mf-compare-metrics")
            settings = gr.Dataframe(interactive=False, wrap=True, max_height=300, label="Settings that differ",
                                    elem_id="mf-compare-settings")
    return ComparePanel(box, pick, button, status, plots, metrics, settings)


def storage_frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([(r["what"], r["name"], r["size"]) for r in rows], columns=STORAGE_HEADERS)


def storage_panel() -> StoragePanel:
    with gr.Accordion("Storage: uploaded datasets and download archives", open=False) as box:
        table = gr.Dataframe(storage_frame([]), interactive=False, max_height=260, wrap=True,
                             column_widths=["28%", "52%", "20%"], elem_id="mf-storage")
        with gr.Row():
            pick = gr.Dropdown([], label="Delete", elem_id="mf-storage-pick", scale=3)
            button = gr.Button("Delete it", size="sm", variant="stop", elem_id="mf-storage-delete", scale=1)
        result = gr.Markdown("", elem_id="mf-storage-result")
    return StoragePanel(box, table, pick, button, result)


# ---- handlers ---------------------------------------------------------------------------------

def cell(v: Any) -> str:
    """A value in a comparison table: numbers to four significant digits, the rest as text."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else v if isinstance(v, str) else json.dumps(v, default=str)


def compare_choices():
    """Every run, to pick from."""
    return gr.update(choices=[(f"{r['name']} · {r['status']} · {r['id']}", r["id"]) for r in list_runs()])


def on_compare(p: ComparePanel, ids: list[str] | None) -> dict:
    """The picked runs' curves (one line per run), final metrics and the settings that differ."""
    import pandas as pd

    try:
        c = compare_runs(ids or [])
    except Exception as e:
        return {p.status: md_text(friendly_error(e, WHERE))}
    names = c["names"]
    out: dict[Any, Any] = {plot: plot_value(pd.DataFrame(c["curves"][k], columns=["run", "step", "value"]))
                           for k, plot in p.plots.items()}
    out[p.metrics] = pd.DataFrame([[k] + [cell(v.get(n)) for n in names] for k, v in c["metrics"].items()],
                                  columns=["Metric"] + names)
    out[p.settings] = pd.DataFrame([[k] + [cell(v.get(n)) for n in names] for k, v in c["settings"].items()],
                                   columns=["Setting"] + names)
    out[p.status] = f"{len(names)} runs compared." + ("" if c["settings"] else " Their settings are the same.")
    return out


def show_storage(p: StoragePanel, message: str = "") -> dict:
    """The stored files, the delete picker, and ``message``."""
    from ...housekeeping import storage

    rows = storage()
    return {p.table: storage_frame(rows),
            p.pick: gr.update(choices=[(f"{r['what']}: {r['name']} ({r['size']})", r["key"]) for r in rows],
                              value=None),
            p.result: message}


def on_delete_stored(p: StoragePanel, key: str | None) -> dict:
    from ...housekeeping import delete_stored

    if not key:
        return show_storage(p, "Pick a file or an export to delete.")
    try:
        r = delete_stored(key)
    except Exception as e:
        return show_storage(p, md_text(friendly_error(e, WHERE)))
    return show_storage(p, f"Deleted {md_code(r['name'])}: {r['freed']} freed.")
