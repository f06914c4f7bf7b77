"""Models tab: every fine-tuned model, its details, and what can be done with it.

A table lists the models (from the run store); selecting one opens its detail view: the
actions (rename, open in the Playground, merge, export as .zip, delete with confirmation)
and a column of panels (summary, loss curves and final metrics, sample outputs, config).

The detail view is a list of panels, ``DETAIL_PANELS``: each is a function that lays out its
widgets and returns a :class:`Panel` saying how to fill them from a model's detail. Adding a
section (an evaluation, say) is one such function and one line in that list.

Below the detail, the Evaluate section runs the task metrics of any fine-tuned or base model on
a dataset (with progress), stores the result, and shows every stored evaluation on that dataset
in one comparison table.

Every action is also an API endpoint: ``/models``, ``/model``, ``/rename_model``,
``/delete_model``, ``/merge``, ``/export``, ``/evaluate``, ``/evaluations``.
"""

from __future__ import annotations

import html
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from ..errors import ForgeError
from . import views
from .widgets import LOSS_COLORS, SOURCES, dataset_ref, friendly_error, series_plot, source_visibility

log = logging.getLogger(__name__)

API = {
    "models": "Every fine-tuned model, newest first: id, name, kind (adapter, full, merged), base model, task, "
              "strategy, created, path, size on disk, files present, final train and eval loss. The id is what "
              "/generate, /evaluate, /merge and /export take.",
    "model": "One model by id: its summary, the config of the run that made it, final metrics, loss history "
             "(loss, eval_loss), recorded sample outputs and notes.",
    "rename_model": "Rename a model (by id); returns its summary.",
    "delete_model": "Delete a model (by id): its folder and its record. Refused while a run or the Playground "
                    "uses it.",
    "merge": "Merge a LoRA adapter (by id) into its base model and save a standalone model (safetensors, "
             "tokenizer, chat template, generation config) as a new model; name is optional. Returns the new "
             "model's record. A QLoRA adapter is merged into the full-precision base (a note says so). Example: "
             '{"model_id": "20260101-120000-ab12", "name": "pirate-merged"}.',
    "export": "Zip a model's folder (adapter or merged model, by id) and download it. Returns the .zip file (its "
              'download URL). Example: {"model_id": "20260101-120000-ab12"}.',
    "evaluate": "Evaluate a model on a dataset and store the result. model: a fine-tuned model's id, the embedded "
                "default, a Hub id or a folder in models/; dataset: sample:NAME, a file in the server's datasets "
                "folder or a Hub dataset id; task: empty to detect it; max_samples: how many rows are answered "
                "(default 20); max_new_tokens: the answer length (default 64). Returns the stored record: id, "
                "model, label, kind, dataset, task, n, metrics (ROUGE-1/2/L for summarization, exact_match and f1 "
                "for extractive-qa, rougeL for text-generation and chat; perplexity and loss for all), seconds, "
                "and the first answers (samples). Example: {\"model\": \"20260101-120000-ab12\", "
                "\"dataset\": \"sample:pirate_persona\", \"max_samples\": 10}.",
    "evaluations": "Every stored evaluation on a dataset (empty: all), newest first: the records /evaluate "
                   "returns. Several models evaluated on one dataset compare side by side.",
}
HEADERS = ["Name", "Kind", "Base model", "Task", "Strategy", "Created", "Size", "Train loss", "Eval loss", "Files",
           "Id"]
KIND_LABELS = {"adapter": "LoRA adapter", "full": "full model", "merged": "merged model", "gguf": "GGUF file"}


def _friendly(e: BaseException) -> str:
    return friendly_error(e, "the Models tab")


def _num(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else ""


# ---- plain data: shared by the widgets and the API -------------------------------------------

def list_models() -> list[dict[str, Any]]:
    from .. import models

    return models.list_models()


def table_rows(items: list[dict[str, Any]] | None = None) -> list[list[Any]]:
    from ..models import human_size

    rows = []
    for m in list_models() if items is None else items:
        created = m.get("created")
        rows.append([m["name"], m.get("kind") or "", views._short_model(m.get("base_model")), m.get("task") or "",
                     m.get("strategy") or "",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "",
                     human_size(m.get("size_bytes")), _num(m.get("train_loss")), _num(m.get("eval_loss")),
                     "ok" if m.get("files_ok") else "⚠ missing", m["id"]])
    return rows


def table_frame(rows: list[list[Any]] | None = None):
    import pandas as pd

    return pd.DataFrame(table_rows() if rows is None else rows, columns=HEADERS)


def model_detail(model_id: str) -> dict[str, Any]:
    """A model's detail (``forge.models.detail``) plus its run's metric history; ``_view`` is the
    run's folded event log (for the plots), dropped by the API."""
    from .. import models

    d = models.detail(model_id)
    d["history"], d["_view"] = {}, None
    if d.get("run_id"):
        try:
            run = views.run_detail(d["run_id"])
            d["history"], d["_view"] = run["history"], run["_view"]
        except ForgeError:
            pass  # the run was removed: the model still shows
    return d


# ---- the detail view: a column of panels -----------------------------------------------------

@dataclass
class Panel:
    """A section of the detail view: its output widgets, and how to fill them from a model's
    detail (``None`` when no model is selected)."""

    outputs: list[Any]
    fill: Callable[[dict[str, Any] | None], list[Any]]


def header_markdown(d: dict[str, Any]) -> str:
    from ..models import human_size

    kind = KIND_LABELS.get(d.get("kind"), d.get("kind") or "model")
    lines = [f"### {views.md_text(d['name'])}",
             f"{kind} · base {views.md_code(d.get('base_model') or '–')} · task {d.get('task') or '–'} · strategy "
             f"{d.get('strategy') or '–'} · {human_size(d.get('size_bytes'))}",
             f"Id `{d['id']}` · folder {views.md_code(d.get('folder'))}"]
    if not d.get("files_ok"):
        lines.append("⚠ **The model's files are missing** from its folder: it cannot be loaded, merged or exported. "
                     "Delete it to tidy the list.")
    run = d.get("run") or {}
    if run:
        lines.append(f"Made by run {views.md_code(run.get('name') or run.get('id'))} ({run.get('status')}) on dataset "
                     f"{views.md_code(run.get('dataset') or '–')}.")
    for note in d.get("notes") or []:
        lines.append(f"ℹ {note}")
    return "  \n".join(lines)


def header_panel(ctx, selected: gr.State) -> Panel:
    md = gr.Markdown("", elem_id="mf-model-header")

    def fill(d):
        return [header_markdown(d) if d else ""]

    return Panel([md], fill)


def curves_panel(ctx, selected: gr.State) -> Panel:
    with gr.Row():
        plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss during training",
                           color_map=LOSS_COLORS, height=240, elem_id="mf-model-loss")
        metrics = gr.JSON(label="Final metrics", max_height=260, elem_id="mf-model-metrics")

    def fill(d):
        if not d:
            return [None, None]
        view = d.get("_view")
        frame = view.loss_frame() if view is not None else None
        return [series_plot(frame), d.get("metrics") or {}]

    return Panel([plot, metrics], fill)


def samples_frame(samples: Any):
    """Recorded sample outputs as a table: a list of objects (one column per key) or of texts."""
    import pandas as pd

    if isinstance(samples, dict):
        samples = [{"name": k, "output": v} for k, v in samples.items()]
    rows = [s if isinstance(s, dict) else {"output": s} for s in samples or []]
    return pd.DataFrame([{k: (v if isinstance(v, (str, int, float)) or v is None else str(v)) for k, v in r.items()}
                         for r in rows])


def samples_panel(ctx, selected: gr.State) -> Panel:
    with gr.Accordion("Sample outputs", open=True, visible=False) as acc:
        table = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="mf-model-samples")

    def fill(d):
        samples = (d or {}).get("samples")
        if not samples:
            return [gr.update(visible=False), None]
        return [gr.update(visible=True), samples_frame(samples)]

    return Panel([acc, table], fill)


def config_panel(ctx, selected: gr.State) -> Panel:
    with gr.Accordion("Config of the run that made it", open=False):
        code = gr.Code("", language="yaml", interactive=False, elem_id="mf-model-config")

    def fill(d):
        if not d:
            return [""]
        if d.get("config_yaml"):
            return [d["config_yaml"]]
        import yaml

        return [yaml.safe_dump(d.get("config") or {}, sort_keys=False) if d.get("config") else "# no config recorded"]

    return Panel([code], fill)


def evaluation_panel(ctx, selected: gr.State) -> Panel:
    """The end-of-run evaluation: the task metrics of the base and the fine-tuned model, and the
    held-out prompts answered by both, side by side."""
    import pandas as pd

    with gr.Accordion("Evaluation: base model vs fine-tuned", open=True, visible=False,
                      elem_id="mf-model-eval") as acc:
        head = gr.Markdown("")
        metrics = gr.Dataframe(pd.DataFrame(columns=views.METRICS_HEADERS), interactive=False, wrap=True,
                               column_widths=["31%", "23%", "23%", "23%"],
                               elem_id="mf-model-eval-metrics", label="Task metrics")
        samples = gr.Dataframe(pd.DataFrame(columns=views.BEFORE_AFTER_HEADERS), interactive=False, wrap=True,
                               column_widths=["25%", "25%", "25%", "25%"],
                               max_height=420, elem_id="mf-model-before-after", label="Before / after")

    def fill(d):
        ev = (d or {}).get("evaluation")
        if not ev:
            return [gr.update(visible=False), "", None, None]
        text = (f"Measured at the end of the run on {ev.get('n')} held-out example(s) of the run's dataset; the base "
                "model answered the same prompts. ✓ marks an improvement.")
        return [gr.update(visible=True), text,
                pd.DataFrame(views.evaluation_metric_rows(ev), columns=views.METRICS_HEADERS),
                pd.DataFrame(views.before_after_rows(ev), columns=views.BEFORE_AFTER_HEADERS)]

    return Panel([acc, head, metrics, samples], fill)


# The detail view's sections below its header and actions, top to bottom. Each is called with
# (ctx, the State holding the selected model's id) inside the detail column.
DETAIL_PANELS: list[Callable[[Any, gr.State], Panel]] = [curves_panel, evaluation_panel, samples_panel, config_panel]


# ---- evaluating any model on a dataset ----------------------------------------------------------

def evaluation_dataset(source: str, sample: str | None, uploaded: str | None, path: str | None) -> str:
    """The dataset reference the Evaluate section points at (sandboxed when used)."""
    return dataset_ref(source, sample, uploaded, path)[0]


def comparison_frame(dataset: str | None):
    import pandas as pd

    headers, rows = views.comparison_rows(views.list_evaluations(dataset) if dataset else [])
    return pd.DataFrame(rows, columns=headers)


def run_evaluation(model: str, dataset: str, task: str | None = None, max_samples: int = 20,
                   max_new_tokens: int = 64, progress=None) -> dict[str, Any]:
    """Evaluate from the page or the API: references checked against the sandbox."""
    from ..errors import ConfigError
    from ..evaluation import evaluate_model

    model = (model or "").strip()
    if not model:
        raise ConfigError("No model was chosen.", "Pick a fine-tuned model or a base model to evaluate.")
    max_samples = _whole_number("Max samples (max_samples)", max_samples, 20, 1, 1000)
    max_new_tokens = _whole_number("Max new tokens (max_new_tokens)", max_new_tokens, 64, 1, 1024)
    dataset = views.check_dataset_ref(dataset)
    task = None if task in (None, "", views.AUTO_TASK) else task
    return evaluate_model(model, dataset, task, max_samples=max_samples, max_new_tokens=max_new_tokens,
                          sandbox=True, progress=progress)


def _whole_number(name: str, value: Any, default: int, low: int, high: int) -> int:
    """A count from the page or the API: empty gives the default; anything else must be a whole
    number in range (the page's number boxes carry no limits, so this message names the field)."""
    from ..errors import ConfigError

    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (number.is_integer() and low <= number <= high):
        raise ConfigError(f"{name}: {value!r} is not a whole number from {low} to {high}.",
                          f"Type a whole number from {low} to {high} (default {default}).")
    return int(number)


def evaluate_section(ctx) -> None:
    from .playground import model_choices

    gr.Markdown("### Evaluate\nMeasure any fine-tuned model, or a base model, on a dataset of its task: "
                "ROUGE for summaries, exact match and F1 for extractive QA, ROUGE-L for chat and text, "
                "perplexity for all. Results are kept: evaluate several models on the same dataset to compare them.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            with gr.Row():
                model = gr.Dropdown([], value=None, allow_custom_value=True, label="Model", scale=5,
                                    elem_id="mf-eval-model",
                                    info="A fine-tuned model, the embedded default, a Hub id (org/name) or a folder "
                                         "in models/.")
                refresh_btn = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="mf-eval-refresh")
            source = gr.Radio(list(SOURCES), value="Sample", label="Dataset source", elem_id="mf-eval-source")
            samples = views.sample_choices()
            sample = gr.Dropdown(samples, value=samples[0][1] if samples else None, label="Sample dataset",
                                 elem_id="mf-eval-sample")
            upload = gr.File(label="Upload a dataset: JSONL, JSON, CSV, Parquet or plain text", file_types=views.DATASET_TYPES,
                             visible=False, elem_id="mf-eval-upload")
            uploaded = gr.State(None)
            path_box = gr.Textbox(label="Dataset file or Hub dataset id", visible=False, elem_id="mf-eval-path",
                                  info="A file in the server's datasets/ folder, or a Hub id like org/name.")
            task = gr.Dropdown(views.task_choices(), value=views.AUTO_TASK, label="Task", elem_id="mf-eval-task")
            with gr.Row():
                # no Gradio limits: run_evaluation checks them and names the field
                max_samples = gr.Number(20, label="Max samples", elem_id="mf-eval-max-samples",
                                        info="rows answered, 1 to 1000")
                max_new = gr.Number(64, label="Max new tokens", elem_id="mf-eval-max-new", info="1 to 1024")
            eval_btn = gr.Button("Evaluate", variant="primary", elem_id="mf-eval-run")
        with gr.Column(scale=3, min_width=420):
            status = gr.Markdown("", elem_id="mf-eval-status")
            table = gr.Dataframe(comparison_frame(None), interactive=False, wrap=True, max_height=360,
                                 label="Every evaluation on this dataset", elem_id="mf-eval-table")
            with gr.Accordion("Answers of the last evaluation", open=False):
                answers = gr.Dataframe(interactive=False, wrap=True, max_height=320, elem_id="mf-eval-answers")

    source.change(source_visibility, source, [sample, upload, path_box], api_visibility="private", show_progress="hidden")

    def on_upload(file):
        if not file:
            return None, ""
        try:
            return str(views.save_upload(file, Path(file).name)), ""
        except Exception as e:
            return None, "⚠ " + _friendly(e)

    upload.upload(on_upload, upload, [uploaded, status], api_visibility="private")
    upload.clear(lambda: None, None, uploaded, api_visibility="private")

    data_inputs = [source, sample, uploaded, path_box]

    def on_dataset(*vals):
        return comparison_frame(evaluation_dataset(*vals))

    gr.on([source.change, sample.change, uploaded.change, path_box.submit, ctx.demo.load], on_dataset, data_inputs,
          table, api_visibility="private", show_progress="hidden", trigger_mode="always_last")

    def on_refresh(current=None):
        choices = model_choices()  # the picker starts on the newest fine-tuned model (else the default)
        return gr.update(choices=choices, value=current or (choices[0][1] if choices else None))

    gr.on([refresh_btn.click, ctx.demo.load, ctx.run_finished.change], on_refresh, model, model,
          api_visibility="private", show_progress="hidden")

    def on_evaluate(model_ref, src, smp, upl, path, task_v, n, max_new_tokens, progress=gr.Progress()):
        dataset = evaluation_dataset(src, smp, upl, path)
        try:
            rec = run_evaluation(model_ref, dataset, task_v, n, max_new_tokens,
                                 progress=lambda f, m: progress(f, desc=m))
        except Exception as e:
            return "⚠ " + _friendly(e), skip(), skip()
        m = ", ".join(f"{views._metric_label(k)} {v:.4f}" for k, v in rec["metrics"].items()
                      if isinstance(v, (int, float)))
        text = (f"✓ **{html.escape(rec.get('label') or rec['model'])}** on `{rec['dataset']}` ({rec['task']}, "
                f"{rec['n']} examples, {rec.get('seconds', 0):.1f} s): {m}")
        return text, comparison_frame(rec["dataset"]), samples_frame(rec.get("samples"))

    skip = gr.skip
    eval_btn.click(on_evaluate, [model] + data_inputs + [task, max_samples, max_new], [status, table, answers],
                   api_visibility="private", show_progress_on=[status], concurrency_limit=1,
                   concurrency_id="mf-evaluate")



# ---- the tab ---------------------------------------------------------------------------------

def build(ctx) -> None:  # noqa: C901 — page builder, split into panels in the redesign
    skip = gr.skip
    gr.Markdown("### Models\nEvery model your runs produced. Select one to see how it trained, rename it, try it in "
                "the Playground, merge it into its base, download it, or delete it.")
    with gr.Row():
        refresh_btn = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="mf-models-refresh")
        count_md = gr.Markdown("", elem_id="mf-models-count")
    table = gr.Dataframe(table_frame([]), interactive=False, max_height=360, wrap=True, elem_id="mf-models",
                         label="Fine-tuned models (select one)")
    selected = gr.State(None)

    with gr.Column(visible=False, elem_id="mf-model-detail") as detail_col:
        header = header_panel(ctx, selected)
        with gr.Row(equal_height=True):
            name_box = gr.Textbox(label="Name", scale=3, elem_id="mf-model-name")
            rename_btn = gr.Button("Rename", size="sm", scale=0, min_width=90, elem_id="mf-model-rename")
        with gr.Row():
            open_btn = gr.Button("Open in Playground", variant="primary", size="sm", elem_id="mf-model-open")
            merge_btn = gr.Button("Merge into base", size="sm", elem_id="mf-model-merge")
            export_btn = gr.Button("Export .zip", size="sm", elem_id="mf-model-export")
            delete_btn = gr.Button("Delete…", variant="stop", size="sm", elem_id="mf-model-delete")
        with gr.Group(visible=False, elem_id="mf-model-confirm") as confirm_box:
            confirm_md = gr.Markdown("")
            with gr.Row():
                confirm_btn = gr.Button("Yes, delete it", variant="stop", size="sm", elem_id="mf-model-confirm-yes")
                cancel_btn = gr.Button("Cancel", size="sm", elem_id="mf-model-confirm-no")
        action_md = gr.Markdown("", elem_id="mf-model-action")
        download = gr.File(label="Download", visible=False, interactive=False, elem_id="mf-model-download")
        panels = [header] + [make(ctx, selected) for make in DETAIL_PANELS]
        from .gguf_panel import panel as gguf_panel

        panels.append(gguf_panel(ctx, selected, lambda: refresh(), [table, count_md]))

    panel_outputs = [c for p in panels for c in p.outputs]
    with gr.Group():
        evaluate_section(ctx)

    def fill_panels(d: dict[str, Any] | None) -> list[Any]:
        return [v for p in panels for v in p.fill(d)]

    def count_text(items: list[dict[str, Any]]) -> str:
        missing = sum(1 for m in items if not m.get("files_ok"))
        if not items:
            return "No fine-tuned models yet: train one on the Finetune tab."
        return f"{len(items)} model(s)" + (f" · ⚠ {missing} with missing files" if missing else "")

    def refresh():
        items = list_models()
        return table_frame(table_rows(items)), count_text(items)

    for trigger in (refresh_btn.click, ctx.demo.load, ctx.run_finished.change):
        trigger(refresh, None, [table, count_md], api_visibility="private", show_progress="hidden")

    # ---- selecting ----------------------------------------------------------------------------
    detail_outputs = [selected, detail_col, name_box, confirm_box, action_md, download] + panel_outputs

    def show(model_id: str | None, message: str = "") -> list[Any]:
        if not model_id:  # hide the detail, keeping it on the page: a plot taken off the page while its
            # resize handler runs raises in the browser; the panels are refilled at the next selection
            return [None, gr.update(visible="hidden"), "", gr.update(visible=False), "", gr.update(visible=False)] + \
                [skip()] * len(panel_outputs)
        try:
            d = model_detail(model_id)
        except Exception as e:
            return [None, gr.update(visible=True), "", gr.update(visible=False), _friendly(e),
                    gr.update(visible=False)] + fill_panels(None)
        return [model_id, gr.update(visible=True), d["name"], gr.update(visible=False), message,
                gr.update(value=None, visible=False)] + fill_panels(d)

    def on_select(evt: gr.SelectData):
        row = evt.row_value or []
        return show(row[-1] if row else None)

    table.select(on_select, None, detail_outputs, api_visibility="private")

    # ---- rename -------------------------------------------------------------------------------
    def on_rename(model_id, name):
        from .. import models

        if not model_id:
            return [skip()] * (2 + len(detail_outputs))
        try:
            s = models.rename(model_id, name)
        except Exception as e:
            return [skip()] * 6 + ["⚠ " + _friendly(e)] + [skip()] * (len(detail_outputs) - 5)
        items = list_models()
        return [table_frame(table_rows(items)), count_text(items)] + \
            show(model_id, f"✓ Renamed to **{html.escape(s['name'])}**.")

    for trigger in (rename_btn.click, name_box.submit):
        trigger(on_rename, [selected, name_box], [table, count_md] + detail_outputs, api_visibility="private")

    # ---- delete, with confirmation ---------------------------------------------------------------
    def ask_delete(model_id):
        from .. import models

        if not model_id:
            return skip(), skip()
        try:
            d = models.detail(model_id)
        except Exception as e:
            return gr.update(visible=False), _friendly(e)
        parts = [f"{what} `{t}` ({models.human_size(models.folder_size(t))})"
                 for t, what, owned in models.deletion_targets(model_id) if owned]
        return (gr.update(visible=True),
                f"Delete **{html.escape(d['name'])}**? This removes {', '.join(parts) or 'no files'} and its record. "
                "It cannot be undone.")

    delete_btn.click(ask_delete, selected, [confirm_box, confirm_md], api_visibility="private")
    cancel_btn.click(lambda: gr.update(visible=False), None, confirm_box, api_visibility="private")

    def on_delete(model_id):
        from .. import models

        if not model_id:
            return [skip()] * (2 + len(detail_outputs))
        try:
            r = models.delete(model_id)
        except Exception as e:
            return [skip(), skip(), skip(), skip(), skip(), gr.update(visible=False), "⚠ " + _friendly(e)] + \
                [skip()] * (len(detail_outputs) - 5)
        gr.Info(f"Deleted {r['name']}: {models.human_size(r['freed_bytes'])} freed.")
        items = list_models()
        return [table_frame(table_rows(items)), count_text(items)] + show(None)

    confirm_btn.click(on_delete, selected, [table, count_md] + detail_outputs, api_visibility="private")

    # ---- merge and export (long: progress, and the page stays usable) ----------------------------
    def on_merge(model_id, progress=gr.Progress()):
        from .. import export

        if not model_id:
            return skip(), skip(), skip()
        try:
            new = export.merge(model_id, progress=lambda f, m: progress(f, desc=m))
        except Exception as e:
            return skip(), skip(), "⚠ " + _friendly(e)
        items = list_models()
        note = "".join(f"  \nℹ {n}" for n in new.get("notes", [])[1:])
        return (table_frame(table_rows(items)), count_text(items),
                f"✓ Merged: **{html.escape(new['name'])}** saved to `{new['folder']}`. It is listed above; open it in "
                f"the Playground or export it." + note)

    merge_btn.click(on_merge, selected, [table, count_md, action_md], api_visibility="private",
                    show_progress_on=[action_md])

    def on_export(model_id, progress=gr.Progress()):
        from .. import export

        if not model_id:
            return skip(), skip()
        try:
            path = export.archive(model_id, progress=lambda f, m: progress(f, desc=m))
        except Exception as e:
            return gr.update(visible=False), "⚠ " + _friendly(e)
        return gr.update(value=str(path), visible=True), f"✓ Ready to download: `{path.name}`."

    export_btn.click(on_export, selected, [download, action_md], api_visibility="private",
                     show_progress_on=[action_md])

    # ---- open in the Playground (wired once the Playground tab exists) ---------------------------
    def wire_open(ctx) -> None:
        if ctx.playground_model is None:
            return
        from .playground import model_choices

        def on_open(model_id):
            if not model_id:
                return skip(), skip()
            return gr.Tabs(selected="playground"), gr.update(choices=model_choices(), value=model_id)

        open_btn.click(on_open, selected, [ctx.tabs, ctx.playground_model], api_visibility="private")

    ctx.after_build.append(wire_open)

    # ---- API ------------------------------------------------------------------------------------
    def models_api() -> list[dict]:
        return list_models()

    def model_api(model_id: str) -> dict:
        try:
            d = model_detail(model_id)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None
        d.pop("_view", None)
        return d

    def rename_api(model_id: str, name: str) -> dict:
        from .. import models

        try:
            return models.rename(model_id, name)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def delete_api(model_id: str) -> dict:
        from .. import models

        try:
            return models.delete(model_id)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def merge_api(model_id: str, name: str = "") -> dict:
        """Args:
            model_id: the LoRA adapter's id (see /models)
            name: the merged model's name; empty: the adapter's name with a suffix
        """
        from .. import export

        try:
            return export.merge(model_id, name or None)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    gr.api(models_api, api_name="models", api_description=API["models"], concurrency_limit=None)
    gr.api(model_api, api_name="model", api_description=API["model"], concurrency_limit=None)
    gr.api(rename_api, api_name="rename_model", api_description=API["rename_model"], concurrency_limit=None)
    gr.api(delete_api, api_name="delete_model", api_description=API["delete_model"])
    gr.api(merge_api, api_name="merge", api_description=API["merge"])

    def evaluate_api(model: str, dataset: str, task: str = "", max_samples: int = 20,
                     max_new_tokens: int = 64) -> dict:
        """Args:
            model: a fine-tuned model's id (see /models), the embedded default, a Hub id or a folder in models/
            dataset: sample:NAME, a file in the server's datasets folder, or a Hub dataset id
            task: the dataset's task; empty: detected from its columns
            max_samples: how many held-out rows are answered and scored
            max_new_tokens: the longest answer, in tokens
        """
        try:
            return run_evaluation(model, dataset, task or None, max_samples, max_new_tokens)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def evaluations_api(dataset: str = "") -> list[dict]:
        return views.list_evaluations((dataset or "").strip() or None)

    gr.api(evaluate_api, api_name="evaluate", api_description=API["evaluate"], concurrency_limit=1,
           concurrency_id="mf-evaluate")
    gr.api(evaluations_api, api_name="evaluations", api_description=API["evaluations"], concurrency_limit=None)

    with gr.Row(visible=False):
        api_model = gr.Textbox(label="model_id")
        api_file = gr.File(label="archive")
        api_btn = gr.Button("api")

    def export_api(model_id):
        """Args:
            model_id: the model's id (see /models)
        """
        from .. import export

        try:
            return str(export.archive((model_id or "").strip()))
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    api_btn.click(export_api, api_model, api_file, api_name="export", api_description=API["export"],
                  show_progress="hidden")


__all__ = ["API", "DETAIL_PANELS", "HEADERS", "Panel", "build", "comparison_frame", "evaluation_dataset", "list_models",
           "model_detail", "run_evaluation", "table_rows"]
