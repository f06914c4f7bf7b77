"""Section 3 of the Finetune tab: the strategy, the provider and every other run setting, the
strategy's own settings (shown for the selected strategy only), and the config as a file.

Numbers carry no minimum, maximum or precision: Gradio would refuse an out-of-range value without
naming the field, and round 2.7 to 3 (or a LoRA rank of 0.4 to 0, full fine-tuning) silently.
RunConfig checks them and names the field and its range."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...config import RunConfig, Scheduler
from ..choices import CLI_COMMAND, hardware, provider_choices, provider_markdown, strategy_choices, strategy_markdown
from ..form import (
    REWARD_COLUMNS,
    REWARD_DATATYPES,
    all_strategy_settings,
    blank_means_default,
    field_spec,
    form_value,
    loss_type_choices,
    reward_menu_markdown,
    reward_row,
    rewards_to_rows,
    rows_to_rewards,
    settings_visibility,
    strategy_settings,
)

Fields = dict[str, gr.components.Component]


@dataclass
class SettingsPanel:
    fields: Fields  # RunConfig name -> widget
    strategy_note: gr.Markdown
    provider_note: gr.Markdown
    devices: gr.Markdown
    strategy_box: gr.Accordion  # the selected strategy's own settings
    rewards: gr.Group | None  # the reward functions' table and its "Add" (None: no strategy takes them)
    reward_kind: gr.Dropdown | None
    add_reward: gr.Button | None
    error: gr.Textbox  # a setting that makes no valid config, named in view (keeps Start off)
    ok: gr.State  # the settings make a valid config
    load: gr.UploadButton
    save: gr.DownloadButton
    extras: gr.State  # settings a loaded config (or a past run) holds that the form does not show
    extras_note: gr.Markdown
    yaml: gr.Code

    @property
    def strategy_widgets(self) -> dict[str, Any]:
        """What the strategy's own settings show or hide, by setting name."""
        return {k: self.rewards if k == "reward_funcs" else self.fields[k] for k in all_strategy_settings()}


def rewards_frame(rows=None):
    import pandas as pd

    return pd.DataFrame(rows or [], columns=REWARD_COLUMNS)


def auto_widget(name: str, value: Any, visible: bool = True, label: str | None = None):
    """A widget for a RunConfig field the tab does not lay out by hand (from its type)."""
    spec = field_spec(name)
    kw = dict(label=label or name, info=spec["description"] or None, visible=visible)
    if blank_means_default(name):
        return gr.Textbox(form_value(name, value), placeholder="default", **kw)
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


# ---- layout -----------------------------------------------------------------------------------

def _main_settings(d: dict[str, Any]) -> Fields:
    f: Fields = {}
    with gr.Row():
        f["num_train_epochs"] = gr.Number(d["num_train_epochs"], label="Epochs")
        f["max_steps"] = gr.Number(d["max_steps"], label="Max steps", info="-1: run for the epochs",
                                   elem_id="mf-max-steps")
        f["learning_rate"] = gr.Number(d["learning_rate"], label="Learning rate")
    with gr.Row():
        f["per_device_train_batch_size"] = gr.Number(d["per_device_train_batch_size"], label="Batch size")
        f["max_seq_length"] = gr.Number(d["max_seq_length"], label="Sequence length")
        f["lora_r"] = gr.Number(d["lora_r"], label="LoRA rank", info="0: full fine-tuning")
    with gr.Accordion("LoRA", open=False):
        with gr.Row():
            f["lora_alpha"] = gr.Number(d["lora_alpha"], label="LoRA alpha")
            f["lora_dropout"] = gr.Number(d["lora_dropout"], label="LoRA dropout")
        f["target_modules"] = gr.Textbox(d["target_modules"], label="Target modules",
                                         info="'all-linear' or names separated by commas (q_proj, v_proj)")
    with gr.Accordion("Optimizer and schedule", open=False):
        with gr.Row():
            f["gradient_accumulation_steps"] = gr.Number(d["gradient_accumulation_steps"],
                                                         label="Gradient accumulation")
            f["warmup_ratio"] = gr.Number(d["warmup_ratio"], label="Warmup ratio")
            f["lr_scheduler_type"] = gr.Dropdown(list(typing.get_args(Scheduler)), value=d["lr_scheduler_type"],
                                                 label="Scheduler")
        with gr.Row():
            f["weight_decay"] = gr.Number(d["weight_decay"], label="Weight decay")
            f["max_grad_norm"] = gr.Number(d["max_grad_norm"], label="Max grad norm")
            f["seed"] = gr.Number(d["seed"], label="Seed")
    return f


def _evaluation_settings(d: dict[str, Any]) -> Fields:
    f: Fields = {}
    with gr.Accordion("Evaluation, logging and checkpoints", open=False):
        with gr.Row():
            f["eval_split"] = gr.Number(d["eval_split"], label="Eval split")
            # empty means a default: text boxes, as a Gradio Number cannot be empty
            f["max_samples"] = gr.Textbox("", label="Max samples", placeholder="all rows", info="empty: all rows")
            f["logging_steps"] = gr.Number(d["logging_steps"], label="Log every N steps")
        with gr.Row():
            f["eval_steps"] = gr.Textbox("", label="Eval every N steps", placeholder="auto",
                                         info="empty: about 5 times a run")
            f["save_steps"] = gr.Textbox("", label="Checkpoint every N steps", placeholder="auto",
                                         info="empty: about 4 times a run")
            f["save_total_limit"] = gr.Number(d["save_total_limit"], label="Checkpoints kept")
        with gr.Row():  # the generated-answer evaluation (ROUGE, exact match) against the base
            for k, label in (("eval_samples", "Answers to score"), ("eval_max_new_tokens", "Answer length (tokens)"),
                             ("eval_generate_every", "Score every N-th evaluation"),
                             ("eval_max_rows", "Rows for the eval loss"),
                             ("eval_budget", "Evaluation's share of the run (at most)")):
                f[k] = auto_widget(k, d.get(k), label=label)
        f["template_values"] = auto_widget("template_values", d.get("template_values"),
                                           label="Placeholder values (JSON)")
        f["packing"] = gr.Checkbox(d["packing"], label="Packing (join short examples)")
    return f


def _device_settings(d: dict[str, Any]) -> tuple[Fields, gr.Markdown]:
    f: Fields = {}
    with gr.Accordion("Devices", open=False):
        devices = gr.Markdown("", elem_id="mf-devices")  # filled on load (probing imports torch)
        with gr.Row():
            f["num_processes"] = auto_widget("num_processes", d.get("num_processes"), label="Processes")
            f["distributed"] = auto_widget("distributed", d.get("distributed"), label="Sharing between processes")
    with gr.Accordion("Precision and quantization", open=False):
        with gr.Row():
            f["bf16"] = gr.Checkbox(bool(d["bf16"]), label="bf16")
            f["fp16"] = gr.Checkbox(bool(d["fp16"]), label="fp16")
            f["gradient_checkpointing"] = gr.Checkbox(bool(d["gradient_checkpointing"]), label="Gradient checkpointing")
        with gr.Row():
            f["use_4bit"] = gr.Checkbox(d["use_4bit"], label="Load in 4 bits")
            f["use_8bit"] = gr.Checkbox(d["use_8bit"], label="Load in 8 bits")
            f["use_nested_quant"] = gr.Checkbox(d["use_nested_quant"], label="Nested quantization")
        with gr.Row():
            f["bnb_4bit_quant_type"] = gr.Dropdown(["nf4", "fp4"], value=d["bnb_4bit_quant_type"], label="4-bit type")
            f["bnb_4bit_compute_dtype"] = gr.Dropdown([("auto", ""), "float32", "float16", "bfloat16"], value="",
                                                      label="4-bit compute dtype")
    return f, devices


def _reward_table(value: Any, visible: bool) -> tuple[gr.Dataframe, gr.Group, gr.Dropdown, gr.Button]:
    from ...config import REWARD_TYPES

    with gr.Group(visible=visible) as group:
        table = gr.Dataframe(rewards_frame(value), headers=REWARD_COLUMNS, datatype=REWARD_DATATYPES,
                             interactive=True, label="reward_funcs", elem_id="mf-reward-funcs")
        with gr.Row():
            kind = gr.Dropdown(list(REWARD_TYPES), value="exact_match", label="Add a reward", scale=3)
            add = gr.Button("Add", size="sm", scale=1, elem_id="mf-add-reward")
        with gr.Accordion("The reward menu", open=False):
            gr.Markdown("Rewards are summed with their weights; an empty table means `exact_match` against the "
                        "dataset's `answer` column. Clear a row's type to drop it.\n\n" + reward_menu_markdown())
    return table, group, kind, add


def _strategy_settings(d: dict[str, Any]) -> tuple[Fields, gr.Accordion, tuple]:
    """Settings specific to one strategy or a few (each strategy's ``settings``): shown only for the
    selected strategy; the hidden ones keep their values and stay out of the config."""
    f: Fields = {}
    own = strategy_settings("sft")
    rewards: tuple = (None, None, None)  # no strategy takes reward functions
    with gr.Accordion("Strategy settings", open=True, visible=bool(own), elem_id="mf-strategy-settings") as box:
        for k in all_strategy_settings():
            if k == "reward_funcs":
                f[k], *rewards = _reward_table(d.get(k), k in own)
            elif k == "loss_type":
                f[k] = gr.Dropdown(loss_type_choices("sft"), value="", label=k,
                                   info=field_spec(k)["description"] or None, visible=k in own)
            else:
                f[k] = auto_widget(k, d.get(k), visible=k in own)
    return f, box, tuple(rewards)


def _more_settings(d: dict[str, Any], taken: set[str]) -> Fields:
    f: Fields = {}
    more = [k for k in RunConfig.model_fields if k not in taken and k not in ("dataset", "run_name")]
    if more:
        with gr.Accordion("More settings", open=False):
            for i in range(0, len(more), 2):
                with gr.Row():
                    for k in more[i:i + 2]:
                        f[k] = auto_widget(k, d.get(k))
    return f


def _config_file() -> tuple[gr.UploadButton, gr.DownloadButton, gr.Markdown, gr.Code]:
    with gr.Accordion("Config file and command line", open=False):
        with gr.Row():
            load = gr.UploadButton("Load config", file_types=[".yaml", ".yml", ".json"], size="sm",
                                   elem_id="mf-load-config")
            save = gr.DownloadButton("Save config", size="sm", elem_id="mf-save-config")
        extras_note = gr.Markdown("", visible=False)
        code = gr.Code("", language="yaml", label="config.yaml", interactive=False, elem_id="mf-config-yaml")
        gr.Markdown(f"The same run from a terminal: save the config, then\n\n```\n{CLI_COMMAND}\n```")
    return load, save, extras_note, code


def settings_panel(defaults: dict[str, Any], taken: set[str]) -> SettingsPanel:
    """Section 3; ``taken``: the RunConfig names other sections lay out."""
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### 3 · Settings")
        with gr.Row():
            f: Fields = {"strategy": gr.Dropdown(strategy_choices(), value="sft", label="Strategy",
                                                 elem_id="mf-strategy"),
                         "provider": gr.Dropdown(provider_choices(), value="auto", label="Provider",
                                                 elem_id="mf-provider")}
        strategy_note = gr.Markdown(strategy_markdown("sft"))
        provider_note = gr.Markdown(provider_markdown("auto", "sft")[1], elem_id="mf-provider-note")
        f.update(_main_settings(defaults))
        f.update(_evaluation_settings(defaults))
        device_fields, devices = _device_settings(defaults)
        f.update(device_fields)
        own_fields, strategy_box, (rewards, reward_kind, add_reward) = _strategy_settings(defaults)
        f.update(own_fields)
        f.update(_more_settings(defaults, taken | set(f)))
        f["run_name"] = gr.Textbox("", label="Run name", placeholder="generated when empty", elem_id="mf-run-name")
        error = gr.Textbox(label="Config problem", visible=False, interactive=False, elem_classes="mf-error",
                           elem_id="mf-config-error")
        load, save, extras_note, code = _config_file()
    return SettingsPanel(f, strategy_note, provider_note, devices, strategy_box, rewards, reward_kind, add_reward,
                         error, gr.State(True), load, save, gr.State({}), extras_note, code)


# ---- handlers ---------------------------------------------------------------------------------

def strategy_note(strategy: str) -> str:
    return strategy_markdown(strategy, hardware())


def provider_note(strategy: str, provider: str) -> str:
    return provider_markdown(provider, strategy)[1]


def on_strategy(p: SettingsPanel, strategy: str, loss_type: str | None) -> dict:
    """Show the selected strategy's own settings; the others are hidden and keep their values."""
    shown = settings_visibility(strategy)
    out: dict[Any, Any] = {p.strategy_box: gr.update(visible=any(shown.values()))}
    for k, widget in p.strategy_widgets.items():
        out[widget] = gr.update(visible=shown[k])
    if "loss_type" in shown and "loss_type" in p.fields:
        choices = loss_type_choices(strategy)
        keep = loss_type if loss_type in [v for _, v in choices] else ""
        out[p.fields["loss_type"]] = gr.update(choices=choices, value=keep, visible=shown["loss_type"])
    return out


def on_add_reward(rows: Any, kind: str):
    """The reward table with a row of ``kind`` added."""
    try:
        current = rewards_to_rows(rows_to_rewards(rows))
    except Exception:  # a row being edited: keep the table as it is
        current = [list(r) for r in (rows.values.tolist() if hasattr(rows, "values") else rows or [])]
    return rewards_frame(current + [reward_row(kind)])
