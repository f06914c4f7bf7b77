"""The Models tab's Evaluate section: the task metrics of any fine-tuned or base model on a dataset
(with progress), stored, and every stored evaluation on that dataset in one comparison table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .. import inputs
from ..choices import sample_choices, task_choices
from ..inputs import AUTO_TASK, DATASET_TYPES
from ..widgets import SOURCES, bind, source_visibility
from .data import comparison_frame, evaluation_dataset, evaluation_text, run_evaluation, samples_frame, warning

INTRO = ("### Evaluate\nMeasure any fine-tuned model, or a base model, on a dataset of its task: ROUGE for summaries, "
         "exact match and F1 for extractive QA, ROUGE-L for chat and text, perplexity for all. Results are kept: "
         "evaluate several models on the same dataset to compare them.")


@dataclass
class EvaluatePanel:
    """The section's widgets: the model and dataset pickers, the settings, and the results."""

    model: gr.Dropdown
    refresh_button: gr.Button
    source: gr.Radio
    sample: gr.Dropdown
    upload: gr.File
    uploaded: gr.State
    path: gr.Textbox
    task: gr.Dropdown
    max_samples: gr.Number
    max_new_tokens: gr.Number
    button: gr.Button
    status: gr.Markdown
    table: gr.Dataframe
    answers: gr.Dataframe

    @property
    def dataset_inputs(self) -> list[Any]:
        """The widgets that say which dataset (``evaluation_dataset``'s arguments)."""
        return [self.source, self.sample, self.uploaded, self.path]


# ---- layout ------------------------------------------------------------------------------------

def _pickers() -> dict[str, Any]:
    with gr.Row():
        model = gr.Dropdown([], value=None, allow_custom_value=True, label="Model", scale=5, elem_id="mf-eval-model",
                            info="A fine-tuned model, the embedded default, a Hub id (org/name) or a folder in models/.")
        refresh_button = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="mf-eval-refresh")
    source = gr.Radio(list(SOURCES), value="Sample", label="Dataset source", elem_id="mf-eval-source")
    samples = sample_choices()
    sample = gr.Dropdown(samples, value=samples[0][1] if samples else None, label="Sample dataset",
                         elem_id="mf-eval-sample")
    upload = gr.File(label="Upload a dataset: JSONL, JSON, CSV, Parquet or plain text", file_types=DATASET_TYPES,
                     visible=False, elem_id="mf-eval-upload")
    path = gr.Textbox(label="Dataset file or Hub dataset id", visible=False, elem_id="mf-eval-path",
                      info="A file in the server's datasets/ folder, or a Hub id like org/name.")
    task = gr.Dropdown(task_choices(), value=AUTO_TASK, label="Task", elem_id="mf-eval-task")
    return dict(model=model, refresh_button=refresh_button, source=source, sample=sample, upload=upload,
                uploaded=gr.State(None), path=path, task=task)


def _settings() -> dict[str, Any]:
    with gr.Row():  # no Gradio limits: run_evaluation checks them and names the field
        max_samples = gr.Number(20, label="Max samples", elem_id="mf-eval-max-samples", info="rows answered, 1 to 1000")
        max_new_tokens = gr.Number(64, label="Max new tokens", elem_id="mf-eval-max-new", info="1 to 1024")
    button = gr.Button("Evaluate", variant="primary", elem_id="mf-eval-run")
    return dict(max_samples=max_samples, max_new_tokens=max_new_tokens, button=button)


def _results() -> dict[str, Any]:
    status = gr.Markdown("", elem_id="mf-eval-status")
    table = gr.Dataframe(comparison_frame(None), interactive=False, wrap=True, max_height=360,
                         label="Every evaluation on this dataset", elem_id="mf-eval-table")
    with gr.Accordion("Answers of the last evaluation", open=False):
        answers = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="mf-eval-answers")
    return dict(status=status, table=table, answers=answers)


def evaluate_panel(ctx) -> EvaluatePanel:
    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            widgets = {**_pickers(), **_settings()}
        with gr.Column(scale=3, min_width=420):
            widgets.update(_results())
    return EvaluatePanel(**widgets)


# ---- handlers ----------------------------------------------------------------------------------

def save_upload(panel: EvaluatePanel, file: str | None) -> dict[Any, Any]:
    """Keep an uploaded dataset in the server's datasets folder (refused files say why)."""
    if not file:
        return {panel.uploaded: None, panel.status: ""}
    try:
        return {panel.uploaded: str(inputs.save_upload(file, Path(file).name)), panel.status: ""}
    except Exception as e:
        return {panel.uploaded: None, panel.status: warning(e)}


def clear_upload(panel: EvaluatePanel) -> dict[Any, Any]:
    return {panel.uploaded: None}


def show_comparison(panel: EvaluatePanel, source: str, sample: str | None, uploaded: str | None,
                    path: str | None) -> dict[Any, Any]:
    """Every stored evaluation on the dataset the pickers point at."""
    return {panel.table: comparison_frame(evaluation_dataset(source, sample, uploaded, path))}


def refresh_models(panel: EvaluatePanel, current: str | None = None) -> dict[Any, Any]:
    """The model picker's choices; it starts on the newest fine-tuned model (else the default)."""
    from ..playground import model_choices

    choices = model_choices()
    return {panel.model: gr.update(choices=choices, value=current or (choices[0][1] if choices else None))}


def offer_run_model(panel: EvaluatePanel, run_id: str | None, current: str | None = None) -> dict[Any, Any]:
    """A run just saved a model: the picker offers it (the model its user will want to score)."""
    from ..playground import run_model

    return refresh_models(panel, run_model(run_id) or current)


def evaluate_and_show(panel: EvaluatePanel, model: str, source: str, sample: str | None, uploaded: str | None,
                      path: str | None, task: str | None, max_samples: Any, max_new_tokens: Any,
                      progress=gr.Progress()) -> dict[Any, Any]:
    """Evaluate, store the result, and show it with the others on the same dataset."""
    dataset = evaluation_dataset(source, sample, uploaded, path)
    try:
        rec = run_evaluation(model, dataset, task, max_samples, max_new_tokens,
                             progress=lambda f, m: progress(f, desc=m))
    except Exception as e:
        return {panel.status: warning(e)}
    return {panel.status: evaluation_text(rec), panel.table: comparison_frame(rec["dataset"]),
            panel.answers: samples_frame(rec.get("samples"))}


# ---- events ------------------------------------------------------------------------------------

def wire(ctx, panel: EvaluatePanel) -> None:
    p, dataset = panel, panel.dataset_inputs
    p.source.change(source_visibility, p.source, [p.sample, p.upload, p.path], api_visibility="private",
                    show_progress="hidden")
    p.upload.upload(bind(save_upload, p), p.upload, [p.uploaded, p.status], api_visibility="private")
    p.upload.clear(bind(clear_upload, p), None, p.uploaded, api_visibility="private")
    gr.on([p.source.change, p.sample.change, p.uploaded.change, p.path.submit, ctx.demo.load],
          bind(show_comparison, p), dataset, p.table, api_visibility="private", show_progress="hidden",
          trigger_mode="always_last")
    gr.on([p.refresh_button.click, ctx.demo.load], bind(refresh_models, p), p.model, p.model,
          api_visibility="private", show_progress="hidden")
    ctx.run_finished.change(bind(offer_run_model, p), [ctx.run_finished, p.model], p.model,
                            api_visibility="private", show_progress="hidden")
    p.button.click(bind(evaluate_and_show, p), [p.model, *dataset, p.task, p.max_samples, p.max_new_tokens],
                   [p.status, p.table, p.answers], api_visibility="private", show_progress_on=[p.status],
                   concurrency_limit=1, concurrency_id="mf-evaluate")


__all__ = ["EvaluatePanel", "clear_upload", "evaluate_and_show", "evaluate_panel", "offer_run_model",
           "refresh_models", "save_upload", "show_comparison", "wire"]
