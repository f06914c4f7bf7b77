"""Models tab: every fine-tuned model, its details, and what can be done with it.

A table lists the models (from the run store); selecting one opens its detail view: the actions
(rename, open in the Playground, merge, export as .zip, delete with confirmation) and a column of
panels (summary, loss curves and final metrics, the end-of-run evaluation, sample outputs, config,
GGUF export). Below, the Evaluate section runs the task metrics of any model on a dataset and
compares the stored evaluations.

The tab is built from panels: each lays out its widgets and returns a dataclass of them; its
handlers are module-level functions taking that dataclass and returning ``{component: value}``.

    data.py      plain data shared by the widgets and the API (rows, detail, evaluation)
    detail.py    ``Panel`` and the detail view's sections (``DETAIL_PANELS``)
    page.py      the list, the detail column and its actions
    gguf.py      the GGUF export panel and ``/export_gguf``
    evaluate.py  the Evaluate section
    api.py       the API actions: ``/models``, ``/model``, ``/rename_model``, ``/delete_model``,
                 ``/merge``, ``/export``, ``/evaluate``, ``/evaluations``, ``/export_gguf``
"""

from __future__ import annotations

import gradio as gr

from . import api, evaluate, page
from .data import (
    HEADERS,
    KIND_LABELS,
    comparison_frame,
    evaluation_dataset,
    list_models,
    model_detail,
    run_evaluation,
    samples_frame,
    table_rows,
)
from .detail import DETAIL_PANELS, Panel

INTRO = ("### Models\nEvery model your runs produced. Select one to see how it trained, rename it, try it in the "
         "Playground, merge it into its base, download it, or delete it.")


def build(ctx) -> page.ModelsPage:
    """Lay out the tab inside its ``gr.Tab``, wire its events and publish its API actions; returns
    the page's widgets."""
    api.publish()  # first: the API actions take their names before any page event is named
    gr.Markdown(INTRO)
    models = page.models_page(ctx)
    with gr.Group():
        section = evaluate.evaluate_panel(ctx)
    page.wire(ctx, models)
    evaluate.wire(ctx, section)
    return models


__all__ = ["DETAIL_PANELS", "HEADERS", "KIND_LABELS", "Panel", "build", "comparison_frame", "evaluation_dataset",
           "list_models", "model_detail", "run_evaluation", "samples_frame", "table_rows"]
