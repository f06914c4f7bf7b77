"""The Finetune tab's API actions: start, follow, stop and resume runs, their history, datasets
and stored files. Each is a module-level function published by :func:`publish` through
:func:`~forge.ui.endpoint.endpoint` (its description is the docstring before ``Args:``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from ... import history
from ...errors import ForgeError
from ...history import list_runs, run_summary
from .. import inputs, run_view
from ..choices import hardware, strategy_options
from ..endpoint import endpoint
from ..form import strategy_settings
from ..inputs import DATASET_TYPES, save_upload
from ..run_view import find_active_run, run_detail, submit
from .data import WHERE


def _config_object(config: Any, dataset_file: str | None) -> dict:
    """The /train config as a dict of settings (JSON text accepted), or a plain error."""
    if isinstance(config, str):
        try:
            config = json.loads(config) if config.strip() else {}
        except json.JSONDecodeError as e:
            raise gr.Error(f"config is not valid JSON: {e.msg} at column {e.colno}.", print_exception=False) from None
    if not isinstance(config, dict):
        raise gr.Error(f"config must be a JSON object of settings (got a {type(config).__name__}), for example "
                       '{"dataset": "sample:pirate_persona", "max_steps": 30}.', print_exception=False)
    if not config and not dataset_file:
        raise gr.Error('config is empty: give at least the dataset, for example {"dataset": '
                       '"sample:pirate_persona"} (every other setting has a default).', print_exception=False)
    return dict(config)


async def train(config, dataset_file):
    """Start a run. config: a RunConfig as a JSON object (the keys of config.yaml); dataset_file: an optional
    dataset file to train on (it replaces config.dataset). Streams progress updates (status, queue position, step,
    epoch, ETA, tokens/s, loss, eval loss, learning rate, new events); the last one carries the run id and final
    status."""
    config = _config_object(config, dataset_file)
    name = None
    if dataset_file:
        name = Path(dataset_file).name
        config["dataset"] = str(save_upload(dataset_file, name))
    rec = submit(config, dataset_name=name)
    async for view, events, _ in run_view.follow(rec["id"]):
        yield view.update(events)


async def follow(run_id):
    """Stream the progress updates of a run (by id; empty: the active run) until it ends."""
    rid = (run_id or "").strip() or find_active_run()
    if not rid:
        raise gr.Error("No run is active.", print_exception=False)
    async for view, events, _ in run_view.follow(rid):
        yield view.update(events)


def validate_dataset(dataset, task=None, dataset_file=None):
    """Read and validate a dataset: a reference (sample:NAME, a file in the server's datasets folder, or a Hub
    dataset id) or an uploaded file; task empty to detect it. Returns ok, task, rows, a preview, and problems with
    line numbers (or the error). Example: {"dataset": "sample:news_summaries"}.

    Args:
        dataset: sample:NAME, a file name in the server's datasets folder, or a Hub dataset id (org/name)
        task: the task to check the rows against (text-generation, chat, summarization, ...); empty: detected
        dataset_file: a dataset file to upload and check instead (a URL)
    """
    name = None
    if dataset_file:
        name = Path(dataset_file).name
        try:
            dataset = str(save_upload(dataset_file, name))
        except ForgeError as e:
            return {"ok": False, "dataset": None, "task": None, "rows": 0, "notices": [], "preview": [],
                    "problems": [], "error": str(e)}
    return inputs.validate_dataset(dataset or "", task or None, name)


def upload_dataset(dataset_file):
    """Upload a dataset file into the server's datasets folder; returns its reference for config.dataset and its
    validation."""
    if not dataset_file:
        raise gr.Error("No file was uploaded.", print_exception=False)
    name = Path(dataset_file).name
    dest = save_upload(dataset_file, name)
    result = inputs.validate_dataset(str(dest), None, name)
    return {**result, "dataset": str(dest), "name": name}


def stop(run_id: str = "", now: bool = False) -> dict:
    """Stop a run by id (empty: the active run). It ends after the current step and keeps what was saved; with
    now=true (or a second stop) its processes end at once and its last checkpoint is kept. Returns run_id and what
    was done. Example: {"run_id": "20260101-120000-ab12"}.

    Args:
        run_id: the run to stop; empty: the run training now
        now: end its processes at once instead of after the current step
    """
    return run_view.stop(run_id, now=now)


def resume(run_id: str, max_steps: int | None = None, num_train_epochs: float | None = None) -> dict:
    """Resume a stopped, failed or interrupted run from its last checkpoint (optimizer, scheduler and random state
    restored), or train a finished run further with a larger max_steps or num_train_epochs. Returns the run's
    record; follow it with /follow_run. Example: {"run_id": "20260101-120000-ab12", "max_steps": 60}.

    Args:
        run_id: the run to resume (stopped, failed, interrupted, or completed to train further)
        max_steps: a larger step count to train a finished run further; empty: the run's own
        num_train_epochs: or a larger number of epochs
    """
    return run_summary(run_view.resume(run_id, max_steps=max_steps, num_train_epochs=num_train_epochs))


def runs() -> list[dict]:
    """All runs, newest first: id, name, model, dataset, task, strategy, status, duration, final loss and eval
    loss, the model folder it saved, and the error of a failed run."""
    return list_runs()


def run(run_id: str) -> dict:
    """One run: its record, config, final metrics and metric history (loss, eval_loss, learning_rate)."""
    d = run_detail(run_id)
    d.pop("_view", None)
    return d


def delete_run(run_id: str) -> dict:
    """Delete a run that is not active: its record, event log and checkpoints (the model it saved stays on the
    Models tab). Returns the space freed."""
    from ...housekeeping import delete_run as delete

    return delete(run_id)


def datasets() -> list[dict]:
    """The uploaded dataset files with their size."""
    from ...housekeeping import list_datasets

    return [{k: v for k, v in d.items() if k != "file"} for d in list_datasets()]


def delete_dataset(name: str) -> dict:
    """Delete an uploaded dataset file by name (refused while a queued or running run reads it)."""
    from ...housekeeping import delete_dataset as delete

    return delete(name)


def exports() -> list[dict]:
    """The archives made for download (one folder per model) with their files and size."""
    from ...housekeeping import list_exports

    return list_exports()


def delete_export(name: str) -> dict:
    """Delete a model's download archives by the name /exports lists (made again on the next download)."""
    from ...housekeeping import delete_export as delete

    return delete(name)


def compare_runs(run_ids: list[str] | str) -> dict:
    """Two to eight runs side by side (a list of run ids, or one string of ids): their loss, eval loss and
    learning-rate curves (one series per run), final metrics, and the settings that differ."""
    return history.compare_runs(run_ids)


def strategies() -> list[dict]:
    """The training strategies (the `strategy` setting of a run config): name, label, description, the dataset
    tasks each trains on, its own settings, and whether this machine can run it (and why not)."""
    return [{**o, "settings": list(strategy_settings(o["name"]))} for o in strategy_options(hardware())]


PLAIN = (stop, resume, runs, run, delete_run, datasets, delete_dataset, exports, delete_export, compare_runs,
         strategies)


def publish() -> None:
    """Publish the tab's API actions. /train, /follow, /validate_dataset and /upload_dataset take a file or
    stream, so they are events of a hidden button with hidden inputs (their parameter names are the labels)."""
    with gr.Row(visible=False):
        config = gr.JSON(label="config")
        dataset_file = gr.File(label="dataset_file", file_types=DATASET_TYPES)
        dataset = gr.Textbox(label="dataset")
        task = gr.Textbox(label="task")
        run_id = gr.Textbox(label="run_id")
        result = gr.JSON(label="result")
        button = gr.Button("api")
    for fn, fields in ((train, [config, dataset_file]), (follow, [run_id]),
                       (validate_dataset, [dataset, task, dataset_file]), (upload_dataset, [dataset_file])):
        options = {"concurrency_limit": None} if fn in (train, follow) else {}
        endpoint(fn, where=WHERE, trigger=button.click, inputs=fields, outputs=result, show_progress="hidden",
                 **options)
    for fn in PLAIN:
        endpoint(fn, where=WHERE, concurrency_limit=None)
