"""Section 2 of the Finetune tab: the dataset (a sample, an upload, or a path / Hub id), its task,
its validation (problems by line, a preview through the model's chat template), and the column
mapping step (which of the file's columns holds each part of an example: RunConfig.columns)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..choices import hardware, provider_markdown, sample_choices, strategy_options, task_choices
from ..form import COLUMN_ROLES, column_choices, column_role_help, columns_value, mapping_from
from ..inputs import AUTO_TASK, DATASET_TYPES, MAX_UPLOAD_MB, save_upload, validate_dataset
from ..tables import dataset_summary, preview_rows, problem_rows
from ..widgets import SOURCES, dataset_ref, friendly_error

WHERE = "the Finetune tab"
PROBLEM_HEADERS = ["Line", "Problem", "Excerpt (first 80 characters)"]
PREVIEW_HEADERS = ["Prompt", "Answer"]
MISSING = {"Upload": "Upload a dataset file.", "Path or Hub id": "Type a dataset file or Hub id."}


@dataclass
class DataPanel:
    source: gr.Radio
    sample: gr.Dropdown
    upload: gr.File
    path: gr.Textbox
    uploaded: gr.State  # the saved upload: {"path", "name"}
    task: gr.Dropdown
    status: gr.Markdown
    problems: gr.Dataframe
    columns_box: gr.Accordion
    column_pickers: dict[str, gr.Dropdown]  # role -> the file's column
    clear_columns: gr.Button
    columns: gr.State  # RunConfig.columns
    preview: gr.Dataframe
    ok: gr.State  # the data is ready to train on

    @property
    def fields(self) -> dict[str, gr.components.Component]:
        """The run settings this panel holds, by RunConfig name."""
        return {"task": self.task, "columns": self.columns}

    @property
    def ref_inputs(self) -> list[gr.components.Component]:
        """The widgets that point at the dataset, in :func:`~forge.ui.widgets.dataset_ref`'s order."""
        return [self.source, self.sample, self.uploaded, self.path]

    @property
    def pickers(self) -> list[gr.Dropdown]:
        return [self.column_pickers[r] for r in COLUMN_ROLES]

    @property
    def validation_outputs(self) -> list[gr.components.Component]:
        return [self.status, self.problems, self.preview, self.ok, self.columns_box, *self.pickers]


def _column_mapping() -> tuple[gr.Accordion, dict[str, gr.Dropdown], gr.Button]:
    with gr.Accordion("Column mapping: which column holds what", open=False, elem_id="mf-columns") as box:
        gr.Markdown("Pick the file's column for each part; leave the rest *not mapped*. The rows are "
                    "checked again at each change, and the mapping goes into the run's config "
                    "(`columns`).", elem_classes="mf-hint")
        pickers: dict[str, gr.Dropdown] = {}
        roles = COLUMN_ROLES
        for i in range(0, len(roles), 3):
            with gr.Row():
                for role in roles[i:i + 3]:
                    pickers[role] = gr.Dropdown(column_choices([]), value="", label=role,
                                                info=column_role_help(role), elem_id=f"mf-col-{role}")
        clear = gr.Button("Clear the mapping", size="sm", elem_id="mf-columns-clear")
    return box, pickers, clear


def data_panel(default_dataset: str | None) -> DataPanel:
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### 2 · Data")
        source = gr.Radio(list(SOURCES), value="Sample", label="Dataset source", elem_id="mf-source")
        sample = gr.Dropdown(sample_choices(), value=default_dataset, label="Sample dataset", elem_id="mf-sample")
        upload = gr.File(label=f"Upload a dataset: JSONL, JSON, CSV, Parquet or plain text, up to {MAX_UPLOAD_MB} MB",
                         file_types=DATASET_TYPES, visible=False, elem_id="mf-upload")
        path = gr.Textbox(label="Dataset file or Hub dataset id", visible=False,
                          info="A file in the server's datasets/ folder (or a folder the server allows), "
                               "or a Hub id like org/name. Press Enter to check it.")
        uploaded = gr.State(None)
        task = gr.Dropdown(task_choices(), value=AUTO_TASK, label="Task", elem_id="mf-task")
        status = gr.Markdown("", elem_id="mf-data-status")
        problems = gr.Dataframe(headers=PROBLEM_HEADERS, label="Problems (fix these lines, then upload again)",
                                visible=False, interactive=False, wrap=True, elem_id="mf-problems",
                                column_widths=["12%", "44%", "44%"])
        columns_box, pickers, clear = _column_mapping()
        columns = gr.State({})
        with gr.Accordion("Preview: the first rows as the model will see them", open=False):
            preview = gr.Dataframe(headers=PREVIEW_HEADERS, interactive=False, wrap=True, column_widths=["50%", "50%"],
                                   max_height=300, elem_id="mf-preview")
    return DataPanel(source, sample, upload, path, uploaded, task, status, problems, columns_box, pickers, clear,
                     columns, preview, gr.State(False))


# ---- handlers ---------------------------------------------------------------------------------

def on_upload(p: DataPanel, file: str | None, mapping: dict | None) -> dict:
    """Save an uploaded file; a new file starts without the previous file's column mapping."""
    out: dict[Any, Any] = {p.columns: {}} if mapping else {}
    if not file:
        return {**out, p.uploaded: None, p.status: ""}
    try:
        dest = save_upload(file, Path(file).name)
    except Exception as e:
        return {**out, p.uploaded: None, p.status: friendly_error(e, WHERE)}
    return {**out, p.uploaded: {"path": str(dest), "name": Path(file).name}, p.status: ""}


def clear_upload(p: DataPanel) -> dict:
    return {p.uploaded: None}


def column_updates(p: DataPanel, result: dict, mapping: dict[str, str]) -> dict:
    """The mapping step: opened when the columns did not make a dataset or a mapping is set;
    one dropdown per role, offering the file's columns."""
    opened = bool(mapping) or (not result.get("ok") and bool(result.get("columns")))
    choices = column_choices(result.get("columns") or [])
    offered = {v for _, v in choices}
    out: dict[Any, Any] = {p.columns_box: gr.update(open=True) if opened else gr.update()}
    for role, picker in p.column_pickers.items():
        value = mapping.get(role, "")
        out[picker] = gr.update(choices=choices, value=value if value in offered else "")
    return out


def strategy_problem(strategy: str, provider: str, task: str) -> str:
    """Why the chosen strategy and provider cannot train on this task here ("" when they can)."""
    option = {o["name"]: o for o in strategy_options(hardware())}.get(strategy)
    if option and task not in option["tasks"]:
        return (f"⚠ Strategy **{strategy}** trains on {', '.join(option['tasks'])} data, not {task}: pick another "
                "strategy or dataset.")
    if option and not option["available"]:
        return f"⚠ Strategy **{strategy}** cannot run on this machine: {option['reason']}"
    provider_ok, provider_text = provider_markdown(provider, strategy)
    return "" if provider_ok else provider_text


def validate(p: DataPanel, source: str, sample: str | None, uploaded: Any, path: str | None, task: str | None,
             strategy: str, provider: str, mapping: Any, model: str | None) -> dict:
    """Read and check the dataset the widgets point at; say whether Start may be on."""
    import pandas as pd

    ref, name = dataset_ref(source, sample, uploaded, path)
    mapping = columns_value(mapping)
    if not ref:
        return {p.status: MISSING.get(source, "Pick a sample dataset."), p.problems: gr.update(visible=False),
                p.preview: [], p.ok: False, **column_updates(p, {}, mapping)}
    result = validate_dataset(ref, task, name, columns=mapping, model=model)
    text, ok = dataset_summary(result), result["ok"]
    if ok:
        problem = strategy_problem(strategy, provider, result["task"])
        ok, text = not problem, text + (f"\n\n{problem}" if problem else "")
    elif result.get("error"):
        text += "\n\n```\n" + result["error"].replace("```", "'''") + "\n```"
    rows = problem_rows(result)
    return {p.status: text,
            p.problems: gr.update(value=pd.DataFrame(rows, columns=PROBLEM_HEADERS), visible=bool(rows)),
            p.preview: pd.DataFrame(preview_rows(result), columns=PREVIEW_HEADERS), p.ok: ok,
            **column_updates(p, result, mapping)}


def on_mapping(current: Any, *picked: str | None) -> dict[str, str]:
    """The dropdowns as the run's ``columns`` (message tags a loaded config set are kept)."""
    return mapping_from(columns_value(current), dict(zip(COLUMN_ROLES, picked)))


def clear_mapping(p: DataPanel) -> dict:
    return {p.columns: {}}
