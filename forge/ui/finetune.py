"""Finetune tab: configure a run, start it, watch it live, stop it, and revisit past runs.

Every action on the tab is also an API endpoint (see ``API`` below and "Use via API" at the
page's foot). The logic the widgets and the endpoints share lives in :mod:`forge.ui.views`;
this module lays out widgets and wires events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import typing
from pathlib import Path
from typing import Any

import gradio as gr

from ..config import EMBEDDED_MODEL, RunConfig, Scheduler
from ..errors import ForgeError
from . import views
from .widgets import (
    LOSS_COLORS,
    LR_COLORS,
    SOURCES,
    dataset_ref,
    friendly_error,
    series_names,
    series_plot,
    source_visibility,
)

log = logging.getLogger(__name__)

IDLE_PING_S = 5.0
API = {
    "train": "Start a run. config: a RunConfig as a JSON object (the keys of config.yaml); dataset_file: an "
             "optional dataset file to train on (it replaces config.dataset). Streams progress updates (status, "
             "queue position, step, epoch, ETA, tokens/s, loss, eval loss, learning rate, new events); the last "
             "one carries the run id and final status.",
    "follow": "Stream the progress updates of a run (by id; empty: the active run) until it ends.",
    "stop": "Stop a run by id (empty: the active run). It ends after the current step and keeps what was saved; "
            "with now=true (or a second stop) its processes end at once and its last checkpoint is kept. Returns "
            'run_id and what was done. Example: {"run_id": "20260101-120000-ab12"}.',
    "delete_run": "Delete a run that is not active: its record, event log and checkpoints (the model it saved "
                  "stays on the Models tab). Returns the space freed.",
    "datasets": "The uploaded dataset files with their size.",
    "delete_dataset": "Delete an uploaded dataset file by name (refused while a queued or running run reads it).",
    "compare_runs": "Two to eight runs side by side (a list of run ids, or one string of ids): their loss, eval "
                    "loss and learning-rate curves (one series per run), final metrics, and the settings that differ.",
    "exports": "The archives made for download (one folder per model) with their files and size.",
    "delete_export": "Delete a model's download archives by the name /exports lists (made again on the next download).",
    "resume": "Resume a stopped, failed or interrupted run from its last checkpoint (optimizer, scheduler and "
              "random state restored), or train a finished run further with a larger max_steps or "
              "num_train_epochs. Returns the run's record; follow it with /follow_run. Example: "
              '{"run_id": "20260101-120000-ab12", "max_steps": 60}.',
    "strategies": "The training strategies (the `strategy` setting of a run config): name, label, description, the "
                  "dataset tasks each trains on, its own settings, and whether this machine can run it (and why not).",
    "runs": "All runs, newest first: id, name, model, dataset, task, strategy, status, duration, final loss and "
            "eval loss, the model folder it saved, and the error of a failed run.",
    "run": "One run: its record, config, final metrics and metric history (loss, eval_loss, learning_rate).",
    "validate_dataset": "Read and validate a dataset: a reference (sample:NAME, a file in the server's datasets "
                        "folder, or a Hub dataset id) or an uploaded file; task empty to detect it. Returns ok, "
                        "task, rows, a preview, and problems with line numbers (or the error). Example: "
                        '{"dataset": "sample:news_summaries"}.',
    "upload_dataset": "Upload a dataset file into the server's datasets folder; returns its reference for "
                      "config.dataset and its validation.",
}


def _friendly(e: BaseException) -> str:
    return friendly_error(e, "the Finetune tab")


def _frame(df):
    """A plot's data; None while there is none (an empty table would break the plot's later updates)."""
    return df if len(df) else None


def _history_frame(rows=None):
    import pandas as pd

    return pd.DataFrame(views.history_rows() if rows is None else rows, columns=views.HISTORY_HEADERS)


def _rewards_frame(rows=None):
    import pandas as pd

    return pd.DataFrame(rows or [], columns=views.REWARD_COLUMNS)


def _reward_kinds() -> list[str]:
    from ..config import REWARD_TYPES

    return list(REWARD_TYPES)


def _auto_widget(name: str, value: Any, visible: bool = True, label: str | None = None):
    """A widget for a RunConfig field the tab does not lay out by hand (from its type)."""
    spec = views.field_spec(name)
    kw = dict(label=label or name, info=spec["description"] or None, visible=visible)
    if views.blank_means_default(name):
        return gr.Textbox(views.form_value(name, value), placeholder="default", **kw)
    if spec["kind"] == "bool":
        return gr.Checkbox(bool(value), **kw)
    if spec["kind"] in ("int", "float"):
        return gr.Number(value, **kw)
    if spec["kind"] == "choice":
        choices = ([("default", "")] if spec["optional"] else []) + list(spec["choices"])
        return gr.Dropdown(choices, value=value if value is not None else "", **kw)
    if spec["kind"] == "json":
        return gr.Textbox(value if isinstance(value, str) else "", lines=2, **kw)
    return gr.Textbox(value or "", **kw)


def plainly(fn, *args):
    """``fn(*args)``, with a failure shown to the API client as its plain message."""
    try:
        return fn(*args)
    except Exception as e:
        raise gr.Error(_friendly(e), print_exception=False) from None


def _cell(v: Any) -> str:
    """A value in a comparison table: numbers to four significant digits, the rest as text."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else v if isinstance(v, str) else json.dumps(v, default=str)


def _storage_frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([(r["what"], r["name"], r["size"]) for r in rows], columns=["What", "Name", "Size"])


def strategies_api() -> list[dict]:
    """The strategies with their tasks, settings and availability on this machine."""
    return [{**o, "settings": list(views.strategy_settings(o["name"]))} for o in views.strategy_options(views.hardware())]


def build(ctx) -> None:  # noqa: C901 — page builder, split into panels in the redesign
    form: dict[str, gr.components.Component] = {}
    defaults = views.form_defaults()

    # ---- 1. model ----------------------------------------------------------------------------
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### 1 · Model")
                form["model_name"] = gr.Dropdown(
                    views.model_choices(), value=EMBEDDED_MODEL, allow_custom_value=True, label="Base model",
                    info="The embedded default trains offline. Or type a Hub id (org/name) or a folder in models/.",
                    elem_id="mf-model")
                hw_md = gr.Markdown("Detecting hardware…", elem_id="mf-hardware")
                mem_md = gr.Markdown("", elem_id="mf-memory", elem_classes="mf-warning mf-ok")

            # ---- 2. data ---------------------------------------------------------------------
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### 2 · Data")
                source = gr.Radio(list(SOURCES), value="Sample", label="Dataset source", elem_id="mf-source")
                sample = gr.Dropdown(views.sample_choices(), value=defaults["dataset"], label="Sample dataset",
                                     elem_id="mf-sample")
                upload = gr.File(label=f"Upload a dataset: JSONL, JSON, CSV, Parquet or plain text, up to {views.MAX_UPLOAD_MB} MB",
                                 file_types=views.DATASET_TYPES, visible=False, elem_id="mf-upload")
                path_box = gr.Textbox(label="Dataset file or Hub dataset id", visible=False,
                                      info="A file in the server's datasets/ folder (or a folder the server allows), "
                                           "or a Hub id like org/name. Press Enter to check it.")
                uploaded = gr.State(None)
                form["task"] = gr.Dropdown(views.task_choices(), value=views.AUTO_TASK, label="Task",
                                           elem_id="mf-task")
                data_md = gr.Markdown("", elem_id="mf-data-status")
                problems_df = gr.Dataframe(headers=["Line", "Problem", "Excerpt (first 80 characters)"],
                                           label="Problems (fix these lines, then upload again)", visible=False,
                                           interactive=False, wrap=True, elem_id="mf-problems",
                                           column_widths=["12%", "44%", "44%"])
                # which of the file's columns holds each part of an example (RunConfig.columns)
                with gr.Accordion("Column mapping: which column holds what", open=False,
                                  elem_id="mf-columns") as columns_acc:
                    gr.Markdown("Pick the file's column for each part; leave the rest *not mapped*. The rows are "
                                "checked again at each change, and the mapping goes into the run's config "
                                "(`columns`).", elem_classes="mf-hint")
                    column_dd: dict[str, gr.Dropdown] = {}
                    roles = views.COLUMN_ROLES
                    for i in range(0, len(roles), 3):
                        with gr.Row():
                            for role in roles[i:i + 3]:
                                column_dd[role] = gr.Dropdown(views.column_choices([]), value="", label=role,
                                                              info=views.column_role_help(role),
                                                              elem_id=f"mf-col-{role}")
                    clear_columns = gr.Button("Clear the mapping", size="sm", elem_id="mf-columns-clear")
                form["columns"] = gr.State({})
                with gr.Accordion("Preview: the first rows as the model will see them", open=False):
                    preview_df = gr.Dataframe(headers=["Prompt", "Answer"], interactive=False, wrap=True,
                                              column_widths=["50%", "50%"],
                                              max_height=300, elem_id="mf-preview")

            # ---- 3. settings -----------------------------------------------------------------
            # Numbers carry no minimum, maximum or precision: Gradio would refuse an out-of-range
            # value without naming the field, and round 2.7 to 3 (or a LoRA rank of 0.4 to 0, full
            # fine-tuning) silently. RunConfig checks them and names the field and its range.
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### 3 · Settings")
                with gr.Row():
                    form["strategy"] = gr.Dropdown(views.strategy_choices(), value="sft", label="Strategy",
                                                   elem_id="mf-strategy")
                    form["provider"] = gr.Dropdown(views.provider_choices(), value="auto", label="Provider",
                                                   elem_id="mf-provider")
                strategy_md = gr.Markdown(views.strategy_markdown("sft"))
                provider_md = gr.Markdown(views.provider_markdown("auto", "sft")[1], elem_id="mf-provider-note")
                with gr.Row():
                    form["num_train_epochs"] = gr.Number(defaults["num_train_epochs"], label="Epochs")
                    form["max_steps"] = gr.Number(defaults["max_steps"], label="Max steps",
                                                  info="-1: run for the epochs", elem_id="mf-max-steps")
                    form["learning_rate"] = gr.Number(defaults["learning_rate"], label="Learning rate")
                with gr.Row():
                    form["per_device_train_batch_size"] = gr.Number(defaults["per_device_train_batch_size"],
                                                                    label="Batch size")
                    form["max_seq_length"] = gr.Number(defaults["max_seq_length"], label="Sequence length")
                    form["lora_r"] = gr.Number(defaults["lora_r"], label="LoRA rank",
                                               info="0: full fine-tuning")
                with gr.Accordion("LoRA", open=False):
                    with gr.Row():
                        form["lora_alpha"] = gr.Number(defaults["lora_alpha"], label="LoRA alpha")
                        form["lora_dropout"] = gr.Number(defaults["lora_dropout"], label="LoRA dropout")
                    form["target_modules"] = gr.Textbox(defaults["target_modules"], label="Target modules",
                                                        info="'all-linear' or names separated by commas (q_proj, v_proj)")
                with gr.Accordion("Optimizer and schedule", open=False):
                    with gr.Row():
                        form["gradient_accumulation_steps"] = gr.Number(defaults["gradient_accumulation_steps"],
                                                                        label="Gradient accumulation")
                        form["warmup_ratio"] = gr.Number(defaults["warmup_ratio"], label="Warmup ratio")
                        form["lr_scheduler_type"] = gr.Dropdown(list(typing.get_args(Scheduler)),
                                                                value=defaults["lr_scheduler_type"], label="Scheduler")
                    with gr.Row():
                        form["weight_decay"] = gr.Number(defaults["weight_decay"], label="Weight decay")
                        form["max_grad_norm"] = gr.Number(defaults["max_grad_norm"], label="Max grad norm")
                        form["seed"] = gr.Number(defaults["seed"], label="Seed")
                with gr.Accordion("Evaluation, logging and checkpoints", open=False):
                    with gr.Row():
                        form["eval_split"] = gr.Number(defaults["eval_split"], label="Eval split")
                        # empty means a default: text boxes, as a Gradio Number cannot be empty
                        form["max_samples"] = gr.Textbox("", label="Max samples", placeholder="all rows",
                                                         info="empty: all rows")
                        form["logging_steps"] = gr.Number(defaults["logging_steps"], label="Log every N steps")
                    with gr.Row():
                        form["eval_steps"] = gr.Textbox("", label="Eval every N steps", placeholder="auto",
                                                        info="empty: about 5 times a run")
                        form["save_steps"] = gr.Textbox("", label="Checkpoint every N steps", placeholder="auto",
                                                        info="empty: about 4 times a run")
                        form["save_total_limit"] = gr.Number(defaults["save_total_limit"], label="Checkpoints kept")
                    with gr.Row():  # the generated-answer evaluation (ROUGE, exact match) against the base
                        for k, label in (("eval_samples", "Answers to score"),
                                         ("eval_max_new_tokens", "Answer length (tokens)"),
                                         ("eval_generate_every", "Score every N-th evaluation"),
                                         ("eval_max_rows", "Rows for the eval loss"),
                                         ("eval_budget", "Evaluation's share of the run (at most)")):
                            form[k] = _auto_widget(k, defaults.get(k), label=label)
                    form["template_values"] = _auto_widget("template_values", defaults.get("template_values"),
                                                             label="Placeholder values (JSON)")
                    form["packing"] = gr.Checkbox(defaults["packing"], label="Packing (join short examples)")
                with gr.Accordion("Devices", open=False):
                    devices_md = gr.Markdown("", elem_id="mf-devices")  # filled on load (probing imports torch)
                    with gr.Row():
                        form["num_processes"] = _auto_widget("num_processes", defaults.get("num_processes"),
                                                             label="Processes")
                        form["distributed"] = _auto_widget("distributed", defaults.get("distributed"),
                                                           label="Sharing between processes")
                with gr.Accordion("Precision and quantization", open=False):
                    with gr.Row():
                        form["bf16"] = gr.Checkbox(bool(defaults["bf16"]), label="bf16")
                        form["fp16"] = gr.Checkbox(bool(defaults["fp16"]), label="fp16")
                        form["gradient_checkpointing"] = gr.Checkbox(bool(defaults["gradient_checkpointing"]),
                                                                     label="Gradient checkpointing")
                    with gr.Row():
                        form["use_4bit"] = gr.Checkbox(defaults["use_4bit"], label="Load in 4 bits")
                        form["use_8bit"] = gr.Checkbox(defaults["use_8bit"], label="Load in 8 bits")
                        form["use_nested_quant"] = gr.Checkbox(defaults["use_nested_quant"], label="Nested quantization")
                    with gr.Row():
                        form["bnb_4bit_quant_type"] = gr.Dropdown(["nf4", "fp4"], value=defaults["bnb_4bit_quant_type"],
                                                                  label="4-bit type")
                        form["bnb_4bit_compute_dtype"] = gr.Dropdown(
                            [("auto", ""), "float32", "float16", "bfloat16"], value="", label="4-bit compute dtype")
                # Settings specific to one strategy or a few (each strategy's ``settings``): shown only
                # for the selected strategy; the hidden ones keep their values and stay out of the config.
                own = views.strategy_settings("sft")
                with gr.Accordion("Strategy settings", open=True, visible=bool(own),
                                  elem_id="mf-strategy-settings") as strategy_acc:
                    for k in views.all_strategy_settings():
                        if k == "reward_funcs":
                            with gr.Group(visible=k in own) as rewards_group:
                                form[k] = gr.Dataframe(
                                    _rewards_frame(defaults.get(k)), headers=views.REWARD_COLUMNS,
                                    datatype=views.REWARD_DATATYPES, interactive=True, label="reward_funcs",
                                    elem_id="mf-reward-funcs")
                                with gr.Row():
                                    reward_kind = gr.Dropdown(_reward_kinds(),
                                                              value="exact_match", label="Add a reward", scale=3)
                                    add_reward = gr.Button("Add", size="sm", scale=1, elem_id="mf-add-reward")
                                with gr.Accordion("The reward menu", open=False):
                                    gr.Markdown("Rewards are summed with their weights; an empty table means "
                                                "`exact_match` against the dataset's `answer` column. Clear a "
                                                "row's type to drop it.\n\n" + views.reward_menu_markdown())
                        elif k == "loss_type":
                            form[k] = gr.Dropdown(views.loss_type_choices("sft"), value="", label=k,
                                                  info=views.field_spec(k)["description"] or None, visible=k in own)
                        else:
                            form[k] = _auto_widget(k, defaults.get(k), visible=k in own)
                more = [k for k in RunConfig.model_fields if k not in form and k not in ("dataset", "run_name")]
                if more:
                    with gr.Accordion("More settings", open=False):
                        for i in range(0, len(more), 2):
                            with gr.Row():
                                for k in more[i:i + 2]:
                                    form[k] = _auto_widget(k, defaults.get(k))
                form["run_name"] = gr.Textbox("", label="Run name", placeholder="generated when empty",
                                              elem_id="mf-run-name")
                # a setting that makes no valid config is named here, in view, and keeps Start off
                config_err = gr.Textbox(label="Config problem", visible=False, interactive=False,
                                        elem_classes="mf-error", elem_id="mf-config-error")
                with gr.Accordion("Config file and command line", open=False):
                    with gr.Row():
                        load_btn = gr.UploadButton("Load config", file_types=[".yaml", ".yml", ".json"],
                                                   size="sm", elem_id="mf-load-config")
                        save_btn = gr.DownloadButton("Save config", size="sm", elem_id="mf-save-config")
                    extras_md = gr.Markdown("", visible=False)
                    yaml_code = gr.Code("", language="yaml", label="config.yaml", interactive=False,
                                        elem_id="mf-config-yaml")
                    gr.Markdown(f"The same run from a terminal: save the config, then\n\n```\n{views.CLI_COMMAND}\n```")

        # ---- 4. live run -------------------------------------------------------------------
        with gr.Column(scale=6, min_width=420):
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### 4 · Live run")
                with gr.Row():
                    start_btn = gr.Button("Start training", variant="primary", interactive=False, elem_id="mf-start",
                                          scale=3)
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="mf-stop", scale=1)
                status_md = gr.Markdown("No run is active. Configure a run and press **Start training**.",
                                        elem_id="mf-status")
                progress_html = gr.HTML("", elem_id="mf-progress")
                error_box = gr.Textbox(label="Error", visible=False, interactive=False, lines=3,
                                       elem_classes="mf-error", elem_id="mf-error")
                with gr.Row():
                    loss_plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss",
                                            color_map=LOSS_COLORS, height=260, elem_id="mf-loss-plot")
                    lr_plot = gr.LinePlot(None, x="step", y="learning_rate", color="series", title="Learning rate",
                                          color_map=LR_COLORS, height=260, elem_id="mf-lr-plot")
                # the strategy's own metrics (reward margins and accuracy, mean reward...), one color per
                # metric and phase (RLHF: the reward model's, then the policy's)
                strategy_plot = gr.LinePlot(None, x="step", y="value", color="series", title="Strategy metrics",
                                            height=260, elem_id="mf-strategy-plot")
                log_box = gr.HTML(views.log_html([]), max_height=280, autoscroll=True, container=True,
                                  show_label=False, elem_classes="mf-log", elem_id="mf-log")
                end_md = gr.Markdown("", elem_id="mf-run-end")
            run_state = gr.State(None)

    # ---- 5. history ------------------------------------------------------------------------
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### 5 · History")
        with gr.Row():
            refresh_btn = gr.Button("Refresh", size="sm", scale=0, min_width=100)
        history_df = gr.Dataframe(_history_frame([]), interactive=False, max_height=320, elem_id="mf-history", wrap=True,
                                  label="Past runs (select one to see it)")
        selected = gr.State(None)
        with gr.Accordion("Selected run", open=False) as detail_acc:
            detail_md = gr.Markdown("Select a run in the table.", elem_id="mf-run-detail")
            with gr.Row():
                d_loss = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss",
                                     color_map=LOSS_COLORS, height=240)
                d_lr = gr.LinePlot(None, x="step", y="learning_rate", color="series", title="Learning rate",
                                   color_map=LR_COLORS, height=240)
            d_strategy = gr.LinePlot(None, x="step", y="value", color="series", title="Strategy metrics", height=240)
            with gr.Row():
                d_config = gr.Code("", language="yaml", label="Config (as trained, profile defaults filled in)",
                                   interactive=False)
                d_metrics = gr.JSON(label="Final metrics")
            with gr.Row():
                use_again_btn = gr.Button("Use this config again", size="sm", elem_id="mf-use-again")
                resume_steps = gr.Textbox("", label="Train until step", placeholder="as set",
                                          info="empty: the steps it was set to; more to train a finished run further",
                                          elem_id="mf-resume-steps", scale=1)
                resume_btn = gr.Button("Resume from last checkpoint", size="sm", elem_id="mf-resume")
                delete_run_btn = gr.Button("Delete run and checkpoints", size="sm", variant="stop",
                                           elem_id="mf-delete-run")

        with gr.Accordion("Compare runs", open=False) as compare_acc:
            with gr.Row():
                compare_pick = gr.Dropdown([], multiselect=True, label="Runs to compare (two or more)", scale=4,
                                           elem_id="mf-compare-pick")
                compare_btn = gr.Button("Compare", size="sm", scale=1, elem_id="mf-compare-btn")
            compare_md = gr.Markdown("", elem_id="mf-compare-status")
            with gr.Row():
                c_loss = gr.LinePlot(None, x="step", y="value", color="run", title="Training loss", height=240,
                                     elem_id="mf-compare-loss")
                c_eval = gr.LinePlot(None, x="step", y="value", color="run", title="Eval loss", height=240,
                                     elem_id="mf-compare-eval")
                c_lr = gr.LinePlot(None, x="step", y="value", color="run", title="Learning rate", height=240,
                                   elem_id="mf-compare-lr")
            with gr.Row():
                c_metrics = gr.Dataframe(interactive=False, wrap=True, max_height=300, label="Final metrics",
                                         elem_id="mf-compare-metrics")
                c_settings = gr.Dataframe(interactive=False, wrap=True, max_height=300,
                                          label="Settings that differ", elem_id="mf-compare-settings")

        with gr.Accordion("Storage: uploaded datasets and download archives", open=False) as storage_acc:
            storage_df = gr.Dataframe(_storage_frame([]), interactive=False, max_height=260, wrap=True,
                                      column_widths=["28%", "52%", "20%"],
                                      elem_id="mf-storage")
            with gr.Row():
                storage_pick = gr.Dropdown([], label="Delete", elem_id="mf-storage-pick", scale=3)
                storage_btn = gr.Button("Delete it", size="sm", variant="stop", elem_id="mf-storage-delete",
                                        scale=1)
            storage_md = gr.Markdown("", elem_id="mf-storage-result")

    # ---- API-only inputs and outputs (hidden) ------------------------------------------------
    with gr.Row(visible=False):
        api_config = gr.JSON(label="config")
        api_file = gr.File(label="dataset_file", file_types=views.DATASET_TYPES)
        api_dataset = gr.Textbox(label="dataset")
        api_task = gr.Textbox(label="task")
        api_run = gr.Textbox(label="run_id")
        api_out = gr.JSON(label="result")
        api_btn = gr.Button("api")

    names = list(form)
    comps = [form[n] for n in names]
    # settings a loaded config (or a past run) holds that the form does not show, e.g. a DPO beta
    extras = gr.State({})
    data_inputs = [source, sample, uploaded, path_box, extras]

    labels = {k: c.label for k, c in form.items() if getattr(c, "label", None) and c.label != k}

    def name_fields(text: str) -> str:
        """A config message names fields as the config does; add the form's label for each."""
        return re.sub(r"^(\w+):", lambda m: f"{labels[m[1]]} ({m[1]}):" if m[1] in labels else m[0], text,
                      flags=re.M)

    def values_of(vals: tuple) -> dict[str, Any]:
        values = {**(vals[len(names) + 4] or {}), **dict(zip(names, vals[: len(names)]))}
        ref, _ = dataset_ref(*vals[len(names): len(names) + 4])
        values["dataset"] = ref
        return values

    # ---- handlers: model, hardware, settings --------------------------------------------------
    def on_load():
        hw = views.hardware()
        d = views.form_defaults(hw)
        out = [views.hardware_markdown(hw), views.devices_markdown(hw), gr.update(choices=views.strategy_choices(hw)),
               gr.update(choices=views.provider_choices()), gr.update(choices=views.model_choices())]
        # the form starts with the cpu profile's values; other machines get theirs
        out += [d[f] if hw.profile != "cpu" else gr.skip() for f in views.PROFILE_FIELDS]
        out.append(_history_frame())
        return out

    page_loaded = ctx.demo.load(on_load, None,
                                [hw_md, devices_md, form["strategy"], form["provider"], form["model_name"]]
                                + [form[f] for f in views.PROFILE_FIELDS] + [history_df],
                                api_visibility="private", concurrency_limit=None, show_progress="hidden")

    # Start is on when the data is ready (validate) and the settings make a valid config (on_form).
    # Each handler writes its own flag; Start is set after either, from both flags as they are then.
    data_ok, config_ok = gr.State(False), gr.State(True)

    def start_state(data_ready, settings_ok):
        return gr.update(interactive=bool(data_ready and settings_ok), value=views.start_label())

    def on_form(*vals):
        values = values_of(vals)
        text, err = views.config_yaml(values)
        if err:
            err = name_fields(err)
            mem, warn = "No estimate until the settings are fixed.", True
        else:
            try:
                mem, warn = views.memory_estimate(values)
            except Exception as e:
                mem, warn = f"No estimate: {_friendly(e)}", False
        return (text, gr.update(value=str(views.write_config_file(text)) if text else None, interactive=bool(text)),
                gr.update(value=err or "", visible=bool(err)),
                gr.update(value=mem, elem_classes=["mf-warning"] if warn else ["mf-warning", "mf-ok"]),
                not err)

    gr.on([c.change for c in comps if c is not form["task"]] + [source.change, sample.change, uploaded.change,
                                                                 extras.change, ctx.demo.load],
          on_form, comps + data_inputs, [yaml_code, save_btn, config_err, mem_md, config_ok],
          trigger_mode="always_last", show_progress="hidden", api_visibility="private").then(
        start_state, [data_ok, config_ok], start_btn, api_visibility="private", show_progress="hidden")

    # ---- handlers: data ---------------------------------------------------------------------
    source.change(source_visibility, source, [sample, upload, path_box], api_visibility="private", show_progress="hidden")

    def on_upload(file, mapping):
        # a new file starts without the previous file's column mapping
        cleared = {} if mapping else gr.skip()
        if not file:
            return None, "", cleared
        try:
            dest = views.save_upload(file, Path(file).name)
            return {"path": str(dest), "name": Path(file).name}, "", cleared
        except Exception as e:
            return None, _friendly(e), cleared

    def column_outputs(result: dict, mapping: dict) -> list:
        """The mapping step: opened when the columns did not make a dataset or a mapping is set;
        one dropdown per role, offering the file's columns."""
        opened = bool(mapping) or (not result.get("ok") and bool(result.get("columns")))
        choices = views.column_choices(result.get("columns") or [])
        offered = {v for _, v in choices}
        return [gr.update(open=True) if opened else gr.update()] + [
            gr.update(choices=choices, value=mapping.get(r, "") if mapping.get(r, "") in offered else "")
            for r in views.COLUMN_ROLES]

    def validate(src, smp, upl, path, task, strategy, provider, mapping, model):
        ref, name = dataset_ref(src, smp, upl, path)
        mapping = views.columns_value(mapping)
        if not ref:
            msg = {"Upload": "Upload a dataset file.", "Path or Hub id": "Type a dataset file or Hub id."}.get(
                src, "Pick a sample dataset.")
            return [msg, gr.update(visible=False), [], False] + column_outputs({}, mapping)
        result = views.validate_dataset(ref, task, name, columns=mapping, model=model)
        text = views.dataset_summary(result)
        ok = result["ok"]
        if ok:
            opts = {o["name"]: o for o in views.strategy_options(views.hardware())}
            o = opts.get(strategy)
            if o and result["task"] not in o["tasks"]:
                ok = False
                text += (f"\n\n⚠ Strategy **{strategy}** trains on {', '.join(o['tasks'])} data, not "
                         f"{result['task']}: pick another strategy or dataset.")
            elif o and not o["available"]:
                ok = False
                text += f"\n\n⚠ Strategy **{strategy}** cannot run on this machine: {o['reason']}"
            else:
                provider_ok, provider_text = views.provider_markdown(provider, strategy)
                if not provider_ok:
                    ok = False
                    text += f"\n\n{provider_text}"
        elif result.get("error"):
            text += "\n\n```\n" + result["error"].replace("```", "'''") + "\n```"
        rows = views.problem_rows(result)
        import pandas as pd

        return (text, gr.update(value=pd.DataFrame(rows, columns=["Line", "Problem", "Excerpt (first 80 characters)"]),
                                visible=bool(rows)),
                pd.DataFrame(views.preview_rows(result), columns=["Prompt", "Answer"]), ok) \
            + tuple(column_outputs(result, mapping))

    validate_outputs = [data_md, problems_df, preview_df, data_ok]
    validate_outputs += [columns_acc] + [column_dd[r] for r in views.COLUMN_ROLES]
    validate_inputs = [source, sample, uploaded, path_box, form["task"], form["strategy"], form["provider"],
                       form["columns"], form["model_name"]]

    def on_mapping(current, *picked):
        """The dropdowns as the run's ``columns`` (message tags a loaded config set are kept)."""
        return views.mapping_from(views.columns_value(current), dict(zip(views.COLUMN_ROLES, picked)))

    gr.on([column_dd[r].input for r in views.COLUMN_ROLES], on_mapping,
          [form["columns"]] + [column_dd[r] for r in views.COLUMN_ROLES], form["columns"],
          api_visibility="private", show_progress="hidden")
    clear_columns.click(lambda: {}, None, form["columns"], api_visibility="private", show_progress="hidden")

    def then_start_state(event):
        return event.then(start_state, [data_ok, config_ok], start_btn, api_visibility="private",
                          show_progress="hidden")

    then_start_state(upload.upload(on_upload, [upload, form["columns"]], [uploaded, data_md, form["columns"]],
                                   api_visibility="private").then(
        validate, validate_inputs, validate_outputs, api_visibility="private"))
    then_start_state(upload.clear(lambda: None, None, uploaded, api_visibility="private").then(
        validate, validate_inputs, validate_outputs, api_visibility="private"))
    then_start_state(gr.on([source.change, sample.change, form["task"].change, path_box.submit, path_box.blur,
                            form["columns"].change, form["model_name"].change,
                            form["strategy"].change, form["provider"].change, ctx.demo.load],
                           validate, validate_inputs, validate_outputs, trigger_mode="always_last",
                           api_visibility="private", concurrency_limit=None))
    form["strategy"].change(lambda s: views.strategy_markdown(s, views.hardware()), form["strategy"], strategy_md,
                            api_visibility="private", show_progress="hidden")
    gr.on([form["strategy"].change, form["provider"].change],
          lambda s, p: views.provider_markdown(p, s)[1], [form["strategy"], form["provider"]], provider_md,
          api_visibility="private", show_progress="hidden")

    strategy_fields = views.all_strategy_settings()

    def on_strategy(strategy, loss_type):
        """Show the selected strategy's own settings; the others are hidden and keep their values."""
        shown = views.settings_visibility(strategy)
        out = [gr.update(visible=any(shown.values()))]
        for k in strategy_fields:
            if k == "reward_funcs":
                out.append(gr.update(visible=shown[k]))
            elif k == "loss_type":
                choices = views.loss_type_choices(strategy)
                keep = loss_type if loss_type in [v for _, v in choices] else ""
                out.append(gr.update(choices=choices, value=keep, visible=shown[k]))
            else:
                out.append(gr.update(visible=shown[k]))
        return out

    form["strategy"].change(on_strategy, [form["strategy"], form["loss_type"]],
                            [strategy_acc] + [rewards_group if k == "reward_funcs" else form[k]
                                              for k in strategy_fields],
                            api_visibility="private", show_progress="hidden")

    def on_add_reward(rows, kind):
        try:
            current = views.rewards_to_rows(views.rows_to_rewards(rows))
        except Exception:  # a row being edited: keep the table as it is
            current = [list(r) for r in (rows.values.tolist() if hasattr(rows, "values") else rows or [])]
        return _rewards_frame(current + [views.reward_row(kind)])

    add_reward.click(on_add_reward, [form["reward_funcs"], reward_kind], form["reward_funcs"],
                     api_visibility="private", show_progress="hidden")

    # ---- handlers: config files ---------------------------------------------------------------
    data_outputs = [source, sample, path_box, extras, extras_md]

    def fill_form(config: RunConfig | dict) -> list:
        from ..config import parse_config

        cfg = parse_config(config)
        values = views.config_to_form(cfg, views.hardware())
        ds = values.get("dataset") or ""
        if ds.startswith("sample:"):
            data_vals = ["Sample", ds, gr.skip()]
        else:
            data_vals = ["Path or Hub id", gr.skip(), ds]
        extra = {k: v for k, v in cfg.to_dict().items() if k in cfg.user_fields() and k not in form and k != "dataset"}
        note = ("Also set by this config (not on the form, kept as they are): "
                + ", ".join(f"`{k}: {v}`" for k, v in extra.items())) if extra else ""
        values["reward_funcs"] = _rewards_frame(values.get("reward_funcs"))
        values["columns"] = dict(cfg.columns)
        return [values[n] for n in names] + data_vals + [extra, gr.update(value=note, visible=bool(extra))]

    def on_load_config(file):
        from ..config import load_config

        try:
            cfg = load_config(file)
            return fill_form(cfg) + [gr.update(value="", visible=False)]
        except Exception as e:
            # name the file as the user knows it, not by the server's temporary upload path
            text = _friendly(e).replace(str(file), Path(str(file)).name) if file else _friendly(e)
            return [gr.skip()] * (len(names) + len(data_outputs)) + [gr.update(value=name_fields(text), visible=True)]

    load_btn.upload(on_load_config, load_btn, comps + data_outputs + [config_err], api_visibility="private")

    # ---- handlers: live run ---------------------------------------------------------------------
    live_outputs = [run_state, status_md, progress_html, loss_plot, lr_plot, log_box, error_box, history_df,
                    ctx.run_finished, end_md, strategy_plot]
    skip = gr.skip

    def render(view: views.RunView, changed: set[str], *, full: bool = False) -> list:
        c = changed | ({"status", "progress", "plots", "log"} if full else set())
        return [
            view.run_id,
            view.status_markdown() if "status" in c else skip(),
            view.progress_html() if c & {"status", "progress"} else skip(),
            _frame(view.loss_frame()) if "plots" in c else skip(),
            _frame(view.lr_frame()) if "plots" in c else skip(),
            views.log_html(view.log) if "log" in c else skip(),
            gr.update(value=view.error or "", visible=bool(view.error)) if "status" in c else skip(),
            skip(), skip(),
            end_markdown(view) if c & {"status", "evaluation"} else skip(),
            _frame(view.strategy_frame()) if "plots" in c else skip(),
        ]

    def end_markdown(view: views.RunView) -> str:
        """At the end of a run: its evaluation (base vs fine-tuned, a few before/after answers)
        and where its TensorBoard logs are."""
        parts = [views.final_metrics_markdown(view)] if view.finished else []
        parts += [views.evaluation_markdown(view.evaluation)] if view.evaluation else []
        if view.finished:
            parts.append(views.tensorboard_markdown(views.tensorboard_dir({"id": view.run_id})))
        return "\n\n".join(parts)

    # Each open page runs one watcher (started on page load) that streams the run the page asked
    # for, else the active run, and then waits for the next one: reloading the page, or opening
    # it in a second browser, re-attaches to the live run. Start points the page's watcher at
    # the new run through ``targets`` (page session → run id).
    targets: dict[str, str] = {}

    PLOTS = (3, 4, 10)  # loss_plot, lr_plot, strategy_plot in live_outputs

    async def watch(request: gr.Request):  # noqa: C901 — handler inside a page builder; moves out with its panel in the redesign
        session = request.session_hash or ""
        idle_shown, last_done, last_yield = False, None, time.monotonic()
        plots: list[Any] = [None] * len(PLOTS)
        series: list[list[str]] = [[] for _ in PLOTS]

        def keep_plots(out: list) -> list:
            # A streamed output is sent as a diff of its previous value: a skip() after a plot
            # was filled leaves the plot a value without its data types, and its resize handler
            # then raises in the browser (on switching tabs). The plots get their last value
            # again instead (an unchanged value costs nothing on the wire).
            for n, i in enumerate(PLOTS):
                if isinstance(out[i], dict) and out[i] == skip():
                    out[i] = plots[n]
                    continue
                plots[n] = out[i]
                names = series_names(out[i])
                if names != series[n]:  # a new series (the first eval loss): redraw with it
                    series[n] = names
                    out[i] = series_plot(out[i])
            return out

        replay = True  # a page opened with no run active shows the last run, as it ended
        try:
            while True:
                rid = targets.pop(session, None)
                if rid is None:
                    active = views.find_active_run()
                    rid = active if active != last_done else None
                replayed = False
                if rid is None and replay:
                    rid = views.last_ended_run()
                    replayed = rid is not None
                replay = False
                if rid is None:
                    if not idle_shown:
                        idle_shown, last_yield = True, time.monotonic()
                        yield keep_plots([skip()] * 7 + [_history_frame(), skip(), skip(), skip()])
                    elif time.monotonic() - last_yield > IDLE_PING_S:
                        # an empty update now and then lets the server notice a closed page and
                        # end this watcher
                        last_yield = time.monotonic()
                        yield keep_plots([skip()] * len(live_outputs))
                    await asyncio.sleep(0.5)
                    continue
                idle_shown, first, view = True, True, None
                try:
                    async for view, _events, changed in views.follow(rid, heartbeat=IDLE_PING_S,
                                                                     until=lambda: session in targets):
                        out = render(view, changed, full=first)
                        if first:
                            out[7] = _history_frame()
                        first = False
                        yield keep_plots(out)
                except ForgeError as e:
                    yield keep_plots([skip()] * 6 + [gr.update(value=str(e), visible=True)] + [skip()] * 4)
                    await asyncio.sleep(1.0)
                    continue
                if view is not None and view.finished:
                    # the ended run stays on screen (plots, metrics, log, status) until the next starts;
                    # one shown again on opening the page is not news for the other tabs
                    last_done = rid
                    yield keep_plots([skip()] * 7 + [_history_frame(), skip() if replayed else rid, skip(),
                                                     skip()])
        finally:
            targets.pop(session, None)

    ctx.demo.load(watch, None, live_outputs, api_visibility="private", concurrency_limit=None,
                  show_progress="hidden")

    # Start may be pressed again to queue another run, but a second press within a few seconds
    # with the same settings is a double click, not a second run.
    last_start: dict[str, tuple[str, float]] = {}
    DOUBLE_CLICK_S = 3.0

    def on_start(request: gr.Request, *vals):
        values = values_of(vals)
        _, name = dataset_ref(*vals[len(names): len(names) + 4])
        session = request.session_hash or ""
        try:
            config = views.form_to_config(values)
            key = config.model_dump_json() + (name or "")
            previous = last_start.get(session)
            if previous and previous[0] == key and time.monotonic() - previous[1] < DOUBLE_CLICK_S:
                return skip(), skip()
            last_start[session] = (key, time.monotonic())
            rec = views.submit(config, dataset_name=name)
        except Exception as e:
            return gr.update(value=name_fields(_friendly(e)), visible=True), skip()
        targets[session] = rec["id"]
        return gr.update(value="", visible=False), f"… **Queued** · run {views.md_code(rec['name'])}"

    then_start_state(start_btn.click(on_start, comps + data_inputs, [error_box, status_md], api_visibility="private",
                                     trigger_mode="multiple"))
    then_start_state(ctx.run_finished.change(lambda: None, None, None, api_visibility="private",
                                             show_progress="hidden"))

    def on_stop(run_id):
        try:
            r = views.stop(run_id)
        except Exception as e:
            gr.Warning(_friendly(e))
            return
        if r["run_id"] is None:
            gr.Info("No run is active.")
        elif r["result"] == "stopping":
            gr.Info("Stopping: the run ends after the current step and keeps what it learned. "
                    "Press Stop again to end it at once.")
        elif r["result"] == "killed":
            gr.Info("The run's processes were ended at once; its last checkpoint is kept and it can be resumed.")
        elif r["result"] == "cancelled":
            gr.Info("The queued run was cancelled.")
        else:
            gr.Info(f"That run is {r['result']}.")

    stop_btn.click(on_stop, run_state, None, api_visibility="private")

    # ---- handlers: history --------------------------------------------------------------------
    refresh_btn.click(_history_frame, None, history_df, api_visibility="private", show_progress="hidden")

    def on_select(evt: gr.SelectData):
        row = evt.row_value or []
        run_id = row[-1] if row else None
        if not run_id:
            return [skip()] * 8
        try:
            d = views.run_detail(run_id)
        except Exception as e:
            return [run_id, _friendly(e), skip(), skip(), skip(), skip(), gr.update(open=True), skip()]
        view = d.pop("_view")
        dur = views._clock(d["duration_s"]) if d["duration_s"] is not None else "–"
        text = (f"**{views.md_text(d['name'])}** · `{d['id']}` · {d['status']} · "
                f"{views.md_text(views._short_model(d['model']))} · {d['task'] or '–'} · {d['strategy']} · {dur}  \n"
                f"Dataset: {views.md_code(d['dataset'])}"
                + (f"  \nSaved to {views.md_code(d['output_dir'])}"
                   + ("" if Path(d["output_dir"]).exists() else " (since deleted)")
                   if d.get("output_dir") else "")
                + f"  \nDevices: {d['devices']}"
                + ("  \nCheckpoints: " + ", ".join(f"{c['name']} ({c['size']})" for c in d["checkpoints"])
                   if d.get("checkpoints") else "")
                + (f"\n\n```\n{d['error']}\n```" if d.get("error") else "")
                + "\n\n" + views.tensorboard_markdown(d.get("tensorboard_dir"))
                + ("\n\n" + views.evaluation_markdown(d["evaluation"]) if d.get("evaluation") else ""))
        import yaml

        cfg_yaml = d["resolved_config_yaml"] or yaml.safe_dump(d["config"], sort_keys=False)
        return [run_id, text, series_plot(view.loss_frame()), series_plot(view.lr_frame()), cfg_yaml, d["metrics"],
                gr.update(open=True), series_plot(view.strategy_frame())]

    history_df.select(on_select, None, [selected, detail_md, d_loss, d_lr, d_config, d_metrics, detail_acc,
                                        d_strategy],
                      api_visibility="private")

    def on_resume(run_id, steps):
        if not run_id:
            gr.Warning("Select a run in the history first.")
            return skip()
        try:
            steps = (steps or "").strip()
            if steps and not steps.isdigit():
                raise ForgeError(f"Train until step: '{steps}' is not a whole number.", "Type a step, or leave it empty.")
            rec = views.resume(run_id, max_steps=int(steps) if steps else None)
        except Exception as e:
            gr.Warning(_friendly(e))
            return skip()
        gr.Info(f"Run {rec['name']} resumes from {Path(rec['resume_from']).name}; it shows in Live run.")
        return _history_frame()

    resume_btn.click(on_resume, [selected, resume_steps], history_df, api_visibility="private")

    def on_delete_run(run_id):
        from ..housekeeping import delete_run

        if not run_id:
            gr.Warning("Select a run in the history first.")
            return skip(), skip()
        try:
            r = delete_run(run_id)
        except Exception as e:
            gr.Warning(_friendly(e))
            return skip(), skip()
        gr.Info(f"Deleted run {r['name']}: {r['freed']} freed" + ("; its model stays on the Models tab."
                                                                   if r["kept_model"] else "."))
        return _history_frame(), None

    delete_run_btn.click(on_delete_run, selected, [history_df, selected], api_visibility="private")

    def show_storage(message: str = ""):
        from ..housekeeping import storage

        rows = storage()
        return (_storage_frame(rows), gr.update(choices=[(f"{r['what']}: {r['name']} ({r['size']})", r["key"])
                                                         for r in rows], value=None), message)

    def on_delete_stored(key):
        from ..housekeeping import delete_stored

        if not key:
            return show_storage("Pick a file or an export to delete.")
        try:
            r = delete_stored(key)
        except Exception as e:
            return show_storage(views.md_text(_friendly(e)))
        return show_storage(f"Deleted {views.md_code(r['name'])}: {r['freed']} freed.")

    def compare_choices():
        return gr.update(choices=[(f"{r['name']} · {r['status']} · {r['id']}", r["id"]) for r in views.list_runs()])

    def on_compare(ids):
        import pandas as pd

        try:
            c = views.compare_runs(ids or [])
        except Exception as e:
            return [views.md_text(_friendly(e))] + [skip()] * 5
        frames = [pd.DataFrame(c["curves"][k], columns=["run", "step", "value"]) for k in views.COMPARED_CURVES]
        metrics = pd.DataFrame([[k] + [_cell(v.get(n)) for n in c["names"]] for k, v in c["metrics"].items()],
                               columns=["Metric"] + c["names"])
        settings = pd.DataFrame([[k] + [_cell(v.get(n)) for n in c["names"]] for k, v in c["settings"].items()],
                                columns=["Setting"] + c["names"])
        note = f"{len(c['names'])} runs compared." + ("" if c["settings"] else " Their settings are the same.")
        return [note, *[_frame(f) for f in frames], metrics, settings]

    compare_acc.expand(compare_choices, None, compare_pick, api_visibility="private", show_progress="hidden")
    refresh_btn.click(compare_choices, None, compare_pick, api_visibility="private", show_progress="hidden")
    compare_btn.click(on_compare, compare_pick, [compare_md, c_loss, c_eval, c_lr, c_metrics, c_settings],
                      api_visibility="private")

    storage_outputs = [storage_df, storage_pick, storage_md]
    storage_acc.expand(show_storage, None, storage_outputs, api_visibility="private")
    storage_btn.click(on_delete_stored, storage_pick, storage_outputs, api_visibility="private")

    def on_use_again(run_id):
        if not run_id:
            gr.Warning("Select a run in the history first.")
            return [skip()] * (len(names) + len(data_outputs))
        try:
            cfg = views.reusable_config(run_id)
            out = fill_form(cfg)
        except Exception as e:
            gr.Warning(_friendly(e))
            return [skip()] * (len(names) + len(data_outputs))
        gr.Info("The form now holds that run's config. Press Start training to run it again.")
        return out

    then_start_state(use_again_btn.click(on_use_again, selected, comps + data_outputs, api_visibility="private").then(
        validate, validate_inputs, validate_outputs, api_visibility="private"))

    def on_open():
        """A page opened (or reloaded) while a run trains shows that run's settings, not the
        defaults, so pressing Start does not queue a different run by mistake."""
        rid = views.find_active_run()
        if rid:
            try:
                return fill_form(views.reusable_config(rid))
            except Exception as e:  # the defaults stay; the live run still shows
                log.warning("could not show the live run's settings: %s", e)
        return [skip()] * (len(names) + len(data_outputs))

    then_start_state(page_loaded.then(on_open, None, comps + data_outputs, api_visibility="private",
                                      show_progress="hidden").then(
        validate, validate_inputs, validate_outputs, api_visibility="private"))

    # ---- API endpoints ------------------------------------------------------------------------
    async def api_train(config, dataset_file):
        """Start a run from a RunConfig (JSON object) and an optional dataset file; stream its progress."""
        import json

        if isinstance(config, str):
            try:
                config = json.loads(config) if config.strip() else {}
            except json.JSONDecodeError as e:
                raise gr.Error(f"config is not valid JSON: {e.msg} at column {e.colno}.",
                               print_exception=False) from None
        if not isinstance(config, dict):
            raise gr.Error(f"config must be a JSON object of settings (got a {type(config).__name__}), for example "
                           '{"dataset": "sample:pirate_persona", "max_steps": 30}.', print_exception=False)
        if not config and not dataset_file:
            raise gr.Error('config is empty: give at least the dataset, for example {"dataset": '
                           '"sample:pirate_persona"} (every other setting has a default).', print_exception=False)
        config = dict(config)
        name = None
        try:
            if dataset_file:
                name = Path(dataset_file).name
                config["dataset"] = str(views.save_upload(dataset_file, name))
            rec = views.submit(config, dataset_name=name)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None
        async for view, events, _ in views.follow(rec["id"]):
            yield view.update(events)

    async def api_follow(run_id):
        rid = (run_id or "").strip() or views.find_active_run()
        if not rid:
            raise gr.Error("No run is active.", print_exception=False)
        try:
            async for view, events, _ in views.follow(rid):
                yield view.update(events)
        except ForgeError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def api_validate(dataset, task=None, dataset_file=None):
        """Args:
            dataset: sample:NAME, a file name in the server's datasets folder, or a Hub dataset id (org/name)
            task: the task to check the rows against (text-generation, chat, summarization, ...); empty: detected
            dataset_file: a dataset file to upload and check instead (a URL)
        """
        name = None
        if dataset_file:
            name = Path(dataset_file).name
            try:
                dataset = str(views.save_upload(dataset_file, name))
            except ForgeError as e:
                return {"ok": False, "dataset": None, "task": None, "rows": 0, "notices": [], "preview": [],
                        "problems": [], "error": str(e)}
        return views.validate_dataset(dataset or "", task or None, name)

    def api_upload(dataset_file):
        if not dataset_file:
            raise gr.Error("No file was uploaded.", print_exception=False)
        name = Path(dataset_file).name
        try:
            dest = views.save_upload(dataset_file, name)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None
        result = views.validate_dataset(str(dest), None, name)
        return {**result, "dataset": str(dest), "name": name}

    api_btn.click(api_train, [api_config, api_file], api_out, api_name="train", api_description=API["train"],
                  concurrency_limit=None, show_progress="hidden")
    api_btn.click(api_follow, [api_run], api_out, api_name="follow", api_description=API["follow"],
                  concurrency_limit=None, show_progress="hidden")
    api_btn.click(api_validate, [api_dataset, api_task, api_file], api_out, api_name="validate_dataset",
                  api_description=API["validate_dataset"], show_progress="hidden")
    api_btn.click(api_upload, [api_file], api_out, api_name="upload_dataset", api_description=API["upload_dataset"],
                  show_progress="hidden")

    def stop_run(run_id: str = "", now: bool = False) -> dict:
        """Args:
            run_id: the run to stop; empty: the run training now
            now: end its processes at once instead of after the current step
        """
        try:
            return views.stop(run_id, now=now)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def resume_run(run_id: str, max_steps: int | None = None, num_train_epochs: float | None = None) -> dict:
        """Args:
            run_id: the run to resume (stopped, failed, interrupted, or completed to train further)
            max_steps: a larger step count to train a finished run further; empty: the run's own
            num_train_epochs: or a larger number of epochs
        """
        try:
            return views.run_summary(views.resume(run_id, max_steps=max_steps, num_train_epochs=num_train_epochs))
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def runs() -> list[dict]:
        return views.list_runs()

    def run(run_id: str) -> dict:
        try:
            d = views.run_detail(run_id)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None
        d.pop("_view", None)
        return d

    gr.api(stop_run, api_name="stop", api_description=API["stop"], concurrency_limit=None)
    gr.api(resume_run, api_name="resume", api_description=API["resume"], concurrency_limit=None)

    def delete_run_api(run_id: str) -> dict:
        from ..housekeeping import delete_run

        try:
            return delete_run(run_id)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def datasets_api() -> list[dict]:
        from ..housekeeping import list_datasets

        return [{k: v for k, v in d.items() if k != "file"} for d in list_datasets()]

    def delete_dataset_api(name: str) -> dict:
        from ..housekeeping import delete_dataset

        try:
            return delete_dataset(name)
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    gr.api(delete_run_api, api_name="delete_run", api_description=API["delete_run"], concurrency_limit=None)
    gr.api(datasets_api, api_name="datasets", api_description=API["datasets"], concurrency_limit=None)
    gr.api(delete_dataset_api, api_name="delete_dataset", api_description=API["delete_dataset"],
           concurrency_limit=None)
    def exports_api() -> list[dict]:
        from ..housekeeping import list_exports

        return list_exports()

    def delete_export_api(name: str) -> dict:
        from ..housekeeping import delete_export

        return plainly(delete_export, name)

    def compare_runs_api(run_ids: list[str] | str) -> dict:
        return plainly(views.compare_runs, run_ids)

    gr.api(compare_runs_api, api_name="compare_runs", api_description=API["compare_runs"], concurrency_limit=None)
    gr.api(exports_api, api_name="exports", api_description=API["exports"], concurrency_limit=None)
    gr.api(delete_export_api, api_name="delete_export", api_description=API["delete_export"],
           concurrency_limit=None)
    gr.api(runs, api_name="runs", api_description=API["runs"], concurrency_limit=None)
    gr.api(strategies_api, api_name="strategies", api_description=API["strategies"], concurrency_limit=None)
    gr.api(run, api_name="run", api_description=API["run"], concurrency_limit=None)
