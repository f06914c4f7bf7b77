"""The plain-Python side of the Finetune tab, shared by its widgets and its API endpoints.

Nothing here imports gradio, and nothing trains. The engine decides (``forge.training.state``
folds a run's events, ``forge.history`` summarises runs, ``forge.memory`` estimates a run's
needs); the page modules present: ``form`` (form values <-> RunConfig), ``inputs`` (references,
uploads, dataset validation), ``run_view`` (a run live), ``tables`` (rows and Markdown). This
module holds the registries' choices and the memory estimate's text, and re-exports the names
the tabs use as ``views.<name>``.
"""

from __future__ import annotations

from typing import Any

from ..config import EMBEDDED_MODEL
from ..errors import ForgeError
from ..history import COMPARED_CURVES, compare_runs, list_runs, reusable_config, run_summary, tensorboard_dir
from ..memory import EMBEDDED_SHAPE, processes
from ..training.state import clock as _clock
from ..training.state import expected_series, strategy_metric_keys
from ..training.state import short_ref as _short_model
from .form import (
    COLUMN_ROLES,
    PROFILE_FIELDS,
    REWARD_COLUMNS,
    REWARD_DATATYPES,
    all_strategy_settings,
    blank_means_default,
    column_choices,
    column_role_help,
    columns_value,
    config_to_form,
    config_yaml,
    field_spec,
    form_defaults,
    form_to_config,
    form_value,
    loss_type_choices,
    mapping_from,
    reward_menu_markdown,
    reward_row,
    rewards_to_rows,
    rows_to_rewards,
    settings_visibility,
    strategy_settings,
    write_config_file,
)
from .inputs import (
    AUTO_TASK,
    DATASET_TYPES,
    MAX_UPLOAD_MB,
    check_dataset_ref,
    check_model_ref,
    save_upload,
    validate_dataset,
)
from .run_view import (
    MAX_PLOT_POINTS,
    RunView,
    final_metrics_markdown,
    find_active_run,
    follow,
    last_ended_run,
    log_html,
    resume,
    run_detail,
    start_label,
    stop,
    submit,
)
from .tables import (
    BEFORE_AFTER_HEADERS,
    HISTORY_HEADERS,
    METRICS_HEADERS,
    _metric_label,
    before_after_rows,
    comparison_rows,
    dataset_summary,
    devices_markdown,
    evaluation_markdown,
    evaluation_metric_rows,
    hardware_markdown,
    history_rows,
    list_evaluations,
    md_code,
    md_text,
    preview_rows,
    problem_rows,
    tensorboard_markdown,
)

# The names the tabs use as views.<name> (most are re-exported from the modules above).
__all__ = ["AUTO_TASK", "BEFORE_AFTER_HEADERS", "CLI_COMMAND", "COLUMN_ROLES", "COMPARED_CURVES", "DATASET_TYPES",
           "EMBEDDED_MODEL", "EMBEDDED_SHAPE", "HISTORY_HEADERS", "MAX_PLOT_POINTS", "MAX_UPLOAD_MB",
           "METRICS_HEADERS", "PROFILE_FIELDS", "REWARD_COLUMNS", "REWARD_DATATYPES", "RunView", "_clock",
           "_metric_label", "_short_model", "all_strategy_settings", "before_after_rows", "blank_means_default",
           "check_dataset_ref", "check_model_ref", "column_choices", "column_role_help", "columns_value",
           "compare_runs", "comparison_rows", "config_to_form", "config_yaml", "dataset_summary", "devices_markdown",
           "evaluation_markdown", "evaluation_metric_rows", "expected_series", "field_spec",
           "final_metrics_markdown", "find_active_run", "follow", "form_defaults", "form_to_config", "form_value",
           "hardware", "hardware_markdown", "history_rows", "last_ended_run", "list_evaluations", "list_runs",
           "log_html", "loss_type_choices", "mapping_from", "md_code", "md_text", "memory_estimate", "model_choices",
           "preview_rows", "problem_rows", "provider_choices", "provider_markdown", "resume", "reusable_config",
           "reward_menu_markdown", "reward_row", "rewards_to_rows", "rows_to_rewards", "run_detail", "run_summary",
           "sample_choices", "save_upload", "settings_visibility", "start_label", "stop", "strategy_choices",
           "strategy_markdown", "strategy_metric_keys", "strategy_options", "strategy_settings", "submit",
           "task_choices", "tensorboard_dir", "tensorboard_markdown", "validate_dataset", "write_config_file"]

CLI_COMMAND = "python -m forge train config.yaml"


# ---- hardware, registries, defaults ----------------------------------------------------------

def hardware():
    from ..hardware import detect

    return detect()


def strategy_options(hw=None) -> list[dict[str, Any]]:
    """Every registered strategy with whether this machine can run it, and why not."""
    from ..strategies import STRATEGIES

    out = []
    for name, cls in STRATEGIES.items():
        ok, why = True, ""
        if hw is not None:
            try:
                ok, why = cls().available(hw)
            except Exception as e:  # a broken strategy must not break the page
                ok, why = False, f"{type(e).__name__}: {e}"
        out.append({"name": name, "label": cls.label or name, "description": cls.description,
                    "tasks": list(cls.tasks), "available": bool(ok), "reason": why or ""})
    return out


def strategy_choices(hw=None) -> list[tuple[str, str]]:
    return [(o["label"] if o["available"] else f"{o['label']} (unavailable: {o['reason']})", o["name"])
            for o in strategy_options(hw)]


def provider_options() -> list[dict[str, Any]]:
    from ..providers import PROVIDERS

    out = [{"name": "auto", "label": "auto (the fastest available)", "available": True, "reason": ""}]
    for name, cls in PROVIDERS.items():
        try:
            ok, why = cls().available()
        except Exception as e:
            ok, why = False, f"{type(e).__name__}: {e}"
        out.append({"name": name, "label": f"{name}: {getattr(cls, 'description', '')}".rstrip(": "),
                    "available": bool(ok), "reason": why or ""})
    return out


def provider_choices() -> list[tuple[str, str]]:
    return [(o["label"] if o["available"] else f"{o['name']} (unavailable: {o['reason']})", o["name"])
            for o in provider_options()]


def provider_markdown(provider: str, strategy: str) -> tuple[bool, str]:
    """What the form says under the provider picker, and whether Start may be pressed."""
    from ..providers import provider_plan

    try:
        ok, text = provider_plan(provider or "auto", strategy or "sft")
    except Exception as e:  # a broken optional install must not break the form
        ok, text = False, f"{type(e).__name__}: {e}"
    return ok, text if ok else f"⚠ {text}"


def strategy_markdown(strategy: str, hw=None) -> str:
    for o in strategy_options(hw):
        if o["name"] == strategy:
            text = f"{o['description']} Trains on: {', '.join(o['tasks'])}."
            if not o["available"]:
                text = f"⚠ Unavailable here: {o['reason']}. " + text
            return text
    return ""


def task_choices() -> list[tuple[str, str]]:
    from ..data import TASK_SPECS

    return [("Detect from the columns", AUTO_TASK)] + [(f"{s.label} ({name})", name) for name, s in TASK_SPECS.items()]


def sample_choices() -> list[tuple[str, str]]:
    from ..data import samples

    return [(name, f"sample:{name}") for name in samples()]


def model_choices() -> list[tuple[str, str]]:
    """The embedded default, then model folders in the home's models/ folder, then the models
    downloaded into the local Hub cache (by Hub id: they load from the cache, offline)."""
    from ..inference import base_model_choices

    return base_model_choices()


# ---- memory estimate: the engine's figures as the form shows them ------------------------------

def memory_estimate(values: dict[str, Any], hw=None) -> tuple[str, bool]:
    """Markdown of the peak-memory estimate for the form's model and settings, and whether it
    carries a warning (the run will likely not fit)."""
    from ..memory import estimate_run

    hw = hw or hardware()
    try:
        ref = check_model_ref((values.get("model_name") or "").strip())
    except ForgeError as e:
        return f"No estimate: {e.message}", False
    try:
        config = form_to_config(values)
    except Exception as e:  # the form's own message says what is wrong; the estimate just waits
        return f"No estimate: {type(e).__name__}", False
    est = estimate_run(config, hw, model_ref=ref, num_processes=processes(values.get("num_processes"), hw))
    if est.reason:
        return est.reason, False
    return _estimate_markdown(est, values.get("distributed")), est.warning


def _estimate_markdown(est, distributed: str | None) -> str:
    n, shape, mem, lora_r = est.num_processes, est.shape, est.memory, est.config.lora_r
    size = f"{shape.n_params / 1e6:.0f}M parameters" if shape.n_params < 1e9 else f"{shape.n_params / 1e9:.1f}B parameters"
    per = f" per process ({n} processes, {distributed or 'ddp'})" if n > 1 else ""
    text = (f"**Memory estimate** ({size}, {'LoRA r=' + str(lora_r) if lora_r else 'full fine-tuning'}, "
            f"{est.bits}-bit): ≈ **{mem.total_gb:.2f} GiB** peak{per} of {mem.available_gb:.0f} GiB "
            f"(weights {mem.weights_gb:.2f}, gradients+optimizer {mem.trainable_gb + mem.optimizer_gb:.2f}, "
            f"activations {mem.activations_gb:.2f})")
    text += f"  \n**Disk**: {est.disk.summary()}"
    if mem.warning:
        text += f"\n\n⚠ **Will not fit:** {mem.warning}"
    if est.disk.warning:
        text += f"\n\n⚠ **Disk:** {est.disk.warning}"
    return text
