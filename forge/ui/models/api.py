"""The Models tab's API actions: ``/models``, ``/model``, ``/rename_model``, ``/delete_model``,
``/merge``, ``/export``, ``/evaluate``, ``/evaluations`` and ``/export_gguf``. Each is a
module-level function whose docstring is its description; :func:`publish` registers them."""

from __future__ import annotations

import gradio as gr

from ..endpoint import endpoint
from ..tables import list_evaluations
from .data import WHERE, list_models, model_detail, run_evaluation
from .gguf import export_gguf_api


def models_api() -> list[dict]:
    """Every fine-tuned model, newest first: id, name, kind (adapter, full, merged), base model, task,
    strategy, created, path, size on disk, files present, final train and eval loss. The id is what
    /generate, /evaluate, /merge and /export take."""
    return list_models()


def model_api(model_id: str) -> dict:
    """One model by id: its summary, the config of the run that made it, final metrics, loss history
    (loss, eval_loss), recorded sample outputs and notes.

    Args:
        model_id: the model's id (see /models)
    """
    d = model_detail(model_id)
    d.pop("_view", None)
    return d


def rename_model_api(model_id: str, name: str) -> dict:
    """Rename a model (by id); returns its summary.

    Args:
        model_id: the model's id (see /models)
        name: its new name (unique among the models)
    """
    from ... import models

    return models.rename(model_id, name)


def delete_model_api(model_id: str) -> dict:
    """Delete a model (by id): its folder and its record. Refused while a run or the Playground uses it.

    Args:
        model_id: the model's id (see /models)
    """
    from ... import models

    return models.delete(model_id)


def merge_api(model_id: str, name: str = "") -> dict:
    """Merge a LoRA adapter (by id) into its base model and save a standalone model (safetensors,
    tokenizer, chat template, generation config) as a new model; name is optional. Returns the new
    model's record. A QLoRA adapter is merged into the full-precision base (a note says so).
    Example: {"model_id": "20260101-120000-ab12", "name": "pirate-merged"}.

    Args:
        model_id: the LoRA adapter's id (see /models)
        name: the merged model's name; empty: the adapter's name with a suffix
    """
    from ... import export

    return export.merge(model_id, name or None)


def export_api(model_id):
    """Zip a model's folder (adapter or merged model, by id) and download it. Returns the .zip file
    (its download URL). Example: {"model_id": "20260101-120000-ab12"}.

    Args:
        model_id: the model's id (see /models)
    """
    from ... import export

    return str(export.archive((model_id or "").strip()))


def evaluate_api(model: str, dataset: str, task: str = "", max_samples: int = 20, max_new_tokens: int = 64) -> dict:
    """Evaluate a model on a dataset and store the result. model: a fine-tuned model's id, the embedded
    default, a Hub id or a folder in models/; dataset: sample:NAME, a file in the server's datasets
    folder or a Hub dataset id; task: empty to detect it; max_samples: how many rows are answered
    (default 20); max_new_tokens: the answer length (default 64). Returns the stored record: id,
    model, label, kind, dataset, task, n, metrics (ROUGE-1/2/L for summarization, exact_match and f1
    for extractive-qa, rougeL for text-generation and chat; perplexity and loss for all), seconds,
    and the first answers (samples). Example: {"model": "20260101-120000-ab12",
    "dataset": "sample:pirate_persona", "max_samples": 10}.

    Args:
        model: a fine-tuned model's id (see /models), the embedded default, a Hub id or a folder in models/
        dataset: sample:NAME, a file in the server's datasets folder, or a Hub dataset id
        task: the dataset's task; empty: detected from its columns
        max_samples: how many held-out rows are answered and scored
        max_new_tokens: the longest answer, in tokens
    """
    return run_evaluation(model, dataset, task or None, max_samples, max_new_tokens)


def evaluations_api(dataset: str = "") -> list[dict]:
    """Every stored evaluation on a dataset (empty: all), newest first: the records /evaluate
    returns. Several models evaluated on one dataset compare side by side.

    Args:
        dataset: the dataset as /evaluate took it (sample:NAME, a file, a Hub id); empty: every dataset
    """
    return list_evaluations((dataset or "").strip() or None)


def publish() -> None:
    """Register the tab's API actions (inside the page's Blocks)."""
    for fn in (models_api, model_api, rename_model_api, evaluations_api):
        endpoint(fn, where=WHERE, concurrency_limit=None)
    for fn in (delete_model_api, merge_api, export_gguf_api):
        endpoint(fn, where=WHERE)
    endpoint(evaluate_api, where=WHERE, concurrency_limit=1, concurrency_id="mf-evaluate")
    with gr.Row(visible=False):  # /export returns a file: an event's output, on hidden widgets
        model_id = gr.Textbox(label="model_id")
        archive = gr.File(label="archive")
        button = gr.Button("api")
    endpoint(export_api, where=WHERE, trigger=button.click, inputs=model_id, outputs=archive, show_progress="hidden")


__all__ = ["delete_model_api", "evaluate_api", "evaluations_api", "export_api", "export_gguf_api", "merge_api",
           "model_api", "models_api", "publish", "rename_model_api"]
