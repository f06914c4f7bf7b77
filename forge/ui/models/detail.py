"""The selected model's detail view, as a column of panels.

A :class:`Panel` is a dataclass of the widgets one section lays out; ``fill(d)`` says what they
show for a model's detail (``None``: no model selected) as ``{component: value}``. A panel
function lays out the widgets and returns its panel. The detail view's sections below its header
and actions are ``DETAIL_PANELS``: adding one (an evaluation, say) is a panel function and one
line in that list.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from ..tables import BEFORE_AFTER_HEADERS, METRICS_HEADERS, before_after_rows, evaluation_metric_rows
from ..widgets import LOSS_COLORS, series_plot
from .data import header_markdown, samples_frame


class Panel(abc.ABC):
    """A section of the page: a dataclass whose fields are its widgets."""

    @property
    def outputs(self) -> list[Any]:
        """The widgets ``fill`` sets: every field, unless the panel says otherwise."""
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    @abc.abstractmethod
    def fill(self, d: dict[str, Any] | None) -> dict[Any, Any]:
        """What the widgets show for a model's detail (``None``: no model selected)."""


@dataclass
class HeaderPanel(Panel):
    markdown: gr.Markdown

    def fill(self, d):
        return {self.markdown: header_markdown(d) if d else ""}


def header_panel(ctx, selected: gr.State) -> HeaderPanel:
    return HeaderPanel(gr.Markdown("", elem_id="mf-model-header"))


@dataclass
class CurvesPanel(Panel):
    plot: gr.LinePlot
    metrics: gr.JSON

    def fill(self, d):
        if not d:
            return {self.plot: None, self.metrics: None}
        view = d.get("_view")
        frame = view.loss_frame() if view is not None else None
        return {self.plot: series_plot(frame), self.metrics: d.get("metrics") or {}}


def curves_panel(ctx, selected: gr.State) -> CurvesPanel:
    with gr.Row():
        plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss during training",
                           color_map=LOSS_COLORS, height=240, elem_id="mf-model-loss")
        metrics = gr.JSON(label="Final metrics", max_height=260, elem_id="mf-model-metrics")
    return CurvesPanel(plot, metrics)


@dataclass
class SamplesPanel(Panel):
    accordion: gr.Accordion
    table: gr.Dataframe

    def fill(self, d):
        samples = (d or {}).get("samples")
        if not samples:
            return {self.accordion: gr.update(visible=False), self.table: None}
        return {self.accordion: gr.update(visible=True), self.table: samples_frame(samples)}


def samples_panel(ctx, selected: gr.State) -> SamplesPanel:
    with gr.Accordion("Sample outputs", open=True, visible=False) as acc:
        table = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="mf-model-samples")
    return SamplesPanel(acc, table)


@dataclass
class ConfigPanel(Panel):
    code: gr.Code

    def fill(self, d):
        if not d:
            return {self.code: ""}
        if d.get("config_yaml"):
            return {self.code: d["config_yaml"]}
        if not d.get("config"):
            return {self.code: "# no config recorded"}
        import yaml

        return {self.code: yaml.safe_dump(d["config"], sort_keys=False)}


def config_panel(ctx, selected: gr.State) -> ConfigPanel:
    with gr.Accordion("Config of the run that made it", open=False):
        code = gr.Code("", language="yaml", interactive=False, elem_id="mf-model-config")
    return ConfigPanel(code)


@dataclass
class EvaluationPanel(Panel):
    """The end-of-run evaluation: the task metrics of the base and the fine-tuned model, and the
    held-out prompts answered by both, side by side."""

    accordion: gr.Accordion
    head: gr.Markdown
    metrics: gr.Dataframe
    samples: gr.Dataframe

    def fill(self, d):
        import pandas as pd

        ev = (d or {}).get("evaluation")
        if not ev:
            return {self.accordion: gr.update(visible=False), self.head: "", self.metrics: None, self.samples: None}
        text = (f"Measured at the end of the run on {ev.get('n')} held-out example(s) of the run's dataset; the base "
                "model answered the same prompts. ✓ marks an improvement.")
        return {self.accordion: gr.update(visible=True), self.head: text,
                self.metrics: pd.DataFrame(evaluation_metric_rows(ev), columns=METRICS_HEADERS),
                self.samples: pd.DataFrame(before_after_rows(ev), columns=BEFORE_AFTER_HEADERS)}


def evaluation_panel(ctx, selected: gr.State) -> EvaluationPanel:
    import pandas as pd

    with gr.Accordion("Evaluation: base model vs fine-tuned", open=True, visible=False,
                      elem_id="mf-model-eval") as acc:
        head = gr.Markdown("")
        metrics = gr.Dataframe(pd.DataFrame(columns=METRICS_HEADERS), interactive=False, wrap=True,
                               column_widths=["31%", "23%", "23%", "23%"],
                               elem_id="mf-model-eval-metrics", label="Task metrics")
        samples = gr.Dataframe(pd.DataFrame(columns=BEFORE_AFTER_HEADERS), interactive=False, wrap=True,
                               column_widths=["25%", "25%", "25%", "25%"],
                               max_height=420, elem_id="mf-model-before-after", label="Before / after")
    return EvaluationPanel(acc, head, metrics, samples)


# The detail view's sections below its header and actions, top to bottom. Each is called with
# (ctx, the State holding the selected model's id) inside the detail column.
DETAIL_PANELS: list[Callable[[Any, gr.State], Panel]] = [curves_panel, evaluation_panel, samples_panel, config_panel]


def fill_all(panels: list[Panel], d: dict[str, Any] | None) -> dict[Any, Any]:
    """Every panel's widgets for a model's detail."""
    return {c: v for p in panels for c, v in p.fill(d).items()}


__all__ = ["DETAIL_PANELS", "ConfigPanel", "CurvesPanel", "EvaluationPanel", "HeaderPanel", "Panel", "SamplesPanel",
           "config_panel", "curves_panel", "evaluation_panel", "fill_all", "header_panel", "samples_panel"]
