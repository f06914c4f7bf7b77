"""The Finetune form and the RunConfig: each field's widget kind, form values to a checked
config and back, the strategy-specific settings, the column mapping and the GRPO rewards table.
"""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Any, Callable

from ..config import RunConfig, parse_config
from ..errors import ConfigError, ForgeError
from ..hardware import PROFILE_DEFAULTS
from .choices import hardware
from .inputs import AUTO_TASK, check_model_ref

PROFILE_FIELDS = ("per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length", "max_steps",
                  "bf16", "fp16", "gradient_checkpointing")


def field_spec(name: str) -> dict[str, Any]:
    """How the form shows a RunConfig field: kind (bool, int, float, choice, text, json), choices,
    whether it may be left empty, and its description."""
    f = RunConfig.model_fields[name]
    ann = f.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    optional = type(None) in typing.get_args(ann)
    core = args[0] if optional and len(args) == 1 else ann
    spec = {"name": name, "optional": optional, "description": f.description or "", "choices": None}
    if typing.get_origin(core) is typing.Literal:
        spec.update(kind="choice", choices=list(typing.get_args(core)))
    elif core is bool:
        spec["kind"] = "bool"
    elif core is int:
        spec["kind"] = "int"
    elif core is float:
        spec["kind"] = "float"
    elif core is str or name == "target_modules":
        spec["kind"] = "text"
    elif name == "reward_funcs":
        spec["kind"] = "rewards"
    else:
        spec["kind"] = "json"
    return spec


def blank_means_default(name: str) -> bool:
    """A number the form may leave empty (the run's or the trainer's default). Gradio's Number
    cannot be empty (its page shows and sends 0, which for beta is a real and different value), so
    these are text boxes on the form: empty for the default, or a number."""
    spec = field_spec(name)
    return (spec["kind"] in ("int", "float") and spec["optional"] and name not in PROFILE_FIELDS
            and name != "max_steps")


def form_value(name: str, value: Any) -> Any:
    """A config value as its form widget holds it."""
    if blank_means_default(name):
        return "" if value is None else str(value)
    if value is None and field_spec(name)["kind"] == "choice":
        return ""  # the dropdown's "default"/"auto" choice
    if name == "target_modules" and isinstance(value, list):
        return ", ".join(value)
    if name == "reward_funcs":
        return rewards_to_rows(value)
    if field_spec(name)["kind"] == "json":
        return json.dumps(value, ensure_ascii=False)
    return value


def form_defaults(hw=None) -> dict[str, Any]:
    """Every form field's starting value: RunConfig's defaults, then the hardware profile's."""
    from ..hardware import profile_defaults

    base = RunConfig()
    values = {k: form_value(k, getattr(base, k)) for k in RunConfig.model_fields}
    values.update(PROFILE_DEFAULTS["cpu"] if hw is None else profile_defaults(hw))
    values["task"] = AUTO_TASK
    values["run_name"] = ""
    values["target_modules"] = "all-linear"
    values["dataset"] = "sample:pirate_persona"
    values["max_samples"] = ""
    return values


COLUMN_ROLES = ("prompt", "query", "response", "system", "messages", "history", "chosen", "rejected", "label",
                "tools", "text")


NOT_MAPPED = "(not mapped)"


def column_choices(columns: list[str]) -> list[tuple[str, str]]:
    """A role's dropdown: not mapped, then each of the file's columns."""
    return [(NOT_MAPPED, "")] + [(c, c) for c in columns]


def column_role_help(role: str) -> str:
    from ..data.columns import ROLE_HELP

    return ROLE_HELP.get(role, "")


def columns_value(value: Any) -> dict[str, str]:
    """The form's mapping as a dict (a loaded config may hold it as JSON text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            return {}
    return {str(k): str(v) for k, v in value.items() if v} if isinstance(value, dict) else {}


def mapping_from(current: dict[str, str], picked: dict[str, str | None]) -> dict[str, str]:
    """The mapping the role dropdowns make; entries they do not show (message tags) are kept."""
    kept = {k: v for k, v in current.items() if k not in picked}
    return {**kept, **{role: col for role, col in picked.items() if col}}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def _default_text(name: str) -> str:
    default = RunConfig.model_fields[name].default
    if default is None and name in PROFILE_FIELDS:
        default = PROFILE_DEFAULTS["cpu"].get(name)
    return "" if default is None else str(default)


def form_to_config(values: dict[str, Any]) -> RunConfig:
    """Form values (by RunConfig field name) → a validated RunConfig (ConfigError on bad fields).
    Settings of other strategies than the chosen one are left out."""
    strategy = values.get("strategy") or RunConfig.model_fields["strategy"].default
    hidden = set(all_strategy_settings()) - set(strategy_settings(strategy))
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name in RunConfig.model_fields and name not in hidden:
            value = _field_value(name, value)
            if value is not _SKIP:
                data[name] = value
    return parse_config(data)


_SKIP = object()  # a field left to its default


def _field_value(name: str, value: Any) -> Any:
    """One form field's value as the config takes it (``_SKIP``: left to the default)."""
    if _blank(value):
        return _empty_field(name)
    for rule in (_FIELD_RULES.get(name, _same), _number_text, _json_text, _whole_number):
        value = rule(name, value)
        if value is _SKIP:
            return _SKIP
    return value


def _empty_field(name: str) -> Any:
    """An empty field: the default, except for a number that may not be left empty."""
    if field_spec(name)["kind"] in ("int", "float") and not blank_means_default(name):
        default = _default_text(name)
        raise ConfigError(f"{name}: empty. Type a number.", f"The default is {default}." if default else None)
    return _SKIP


def _same(name: str, value: Any) -> Any:
    return value


def _auto_task(name: str, value: Any) -> Any:
    return _SKIP if value == AUTO_TASK else value


def _rewards(name: str, value: Any) -> Any:
    return rows_to_rewards(value) or _SKIP


def _max_steps(name: str, value: Any) -> Any:
    return -1 if value in (0, -1) else value  # 0 and -1 both mean "train by epochs"


_FIELD_RULES: dict[str, Callable[[str, Any], Any]] = {"task": _auto_task, "reward_funcs": _rewards,
                                                       "max_steps": _max_steps}


def _number_text(name: str, value: Any) -> Any:
    """A number typed in a text box: pydantic reads it, and names the field when it is not one."""
    return value.strip() if isinstance(value, str) and blank_means_default(name) else value


def _json_text(name: str, value: Any) -> Any:
    if field_spec(name)["kind"] != "json" or not isinstance(value, str):
        return value
    try:
        value = json.loads(value)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{name}: not valid JSON ({e.msg} at column {e.colno}).",
                          "Write it as JSON, e.g. [] or [{\"type\": \"exact_match\"}].") from None
    return _SKIP if value == getattr(RunConfig(), name) else value


def _whole_number(name: str, value: Any) -> Any:
    """A float from a Number widget for an int field (3.0 → 3)."""
    annotation = str(RunConfig.model_fields[name].annotation)
    if isinstance(value, float) and value.is_integer() and "int" in annotation and "float" not in annotation:
        return int(value)
    return value


def strategy_settings(strategy: str | None) -> tuple[str, ...]:
    """The RunConfig fields specific to a strategy (its ``settings``); () for an unknown one."""
    from ..strategies import STRATEGIES

    cls = STRATEGIES.get((strategy or "").strip().lower())
    return tuple(getattr(cls, "settings", ()) or ()) if cls else ()


def all_strategy_settings() -> list[str]:
    """Every field some strategy declares as its own, in RunConfig's order."""
    from ..strategies import STRATEGIES

    own = {k for cls in STRATEGIES.values() for k in getattr(cls, "settings", ())}
    return [k for k in RunConfig.model_fields if k in own]


def settings_visibility(strategy: str | None) -> dict[str, bool]:
    """Which strategy-specific fields the form shows for ``strategy`` (the others are hidden and keep
    their values; a config leaves them out)."""
    own = set(strategy_settings(strategy))
    return {k: k in own for k in all_strategy_settings()}


def loss_type_choices(strategy: str | None) -> list[tuple[str, str]]:
    """The loss formulations a strategy accepts (TRL's names), after "default" (the trainer's own)."""
    from ..config import LOSS_TYPES

    return [("default", "")] + [(n, n) for n in LOSS_TYPES.get((strategy or "").strip().lower(), ())]


def _reward_columns() -> list[str]:
    from ..config import REWARD_MODELS

    cols = ["type", "weight"]
    for model in REWARD_MODELS.values():
        cols += [k for k in model.model_fields if k not in cols]
    return cols


def _reward_kind(name: str) -> str:
    from ..config import REWARD_MODELS

    for model in REWARD_MODELS.values():
        f = model.model_fields.get(name)
        if f is not None:
            if f.annotation is bool:
                return "bool"
            if f.annotation in (int, float):
                return "number"
            return "str"
    return "str"


REWARD_COLUMNS = _reward_columns()


REWARD_DATATYPES = [_reward_kind(c) for c in REWARD_COLUMNS]


def _cell_blank(v: Any) -> Any:
    return {"bool": False, "number": None}.get(v, "")


def rewards_to_rows(specs: Any) -> list[list[Any]]:
    """``reward_funcs`` items (models or dicts) → table rows; settings a reward does not have stay blank."""
    rows = []
    for spec in specs or []:
        d = spec.model_dump() if hasattr(spec, "model_dump") else dict(spec)
        rows.append([d[c] if c in d and d[c] is not None else _cell_blank(t)
                     for c, t in zip(REWARD_COLUMNS, REWARD_DATATYPES)])
    return rows


def reward_row(kind: str) -> list[Any]:
    """A new table row for a reward of the menu, with that reward's defaults."""
    from ..config import REWARD_MODELS

    model = REWARD_MODELS[kind]
    d = {k: f.default for k, f in model.model_fields.items() if k != "type" and f.is_required() is False}
    return rewards_to_rows([{**d, "type": kind}])[0]


def _records(rows: Any) -> list[dict[str, Any]]:
    if rows is None:
        return []
    if hasattr(rows, "to_dict"):  # a pandas DataFrame, as the page's table sends it
        return rows.to_dict("records")
    if isinstance(rows, str):
        rows = json.loads(rows) if rows.strip() else []
    out = []
    for r in rows:
        out.append(dict(r) if isinstance(r, dict) else dict(zip(REWARD_COLUMNS, r)))
    return out


def rows_to_rewards(rows: Any) -> list[dict[str, Any]]:
    """Table rows → ``reward_funcs`` items; rows without a type are skipped. Each item carries only
    the settings its reward has (the RunConfig checks the values)."""
    from ..config import REWARD_MODELS

    items = []
    for n, rec in enumerate(_records(rows), 1):
        kind = rec.get("type")
        if _blank(kind):
            continue
        kind = str(kind).strip().lower()
        if kind not in REWARD_MODELS:
            raise ConfigError(f"reward_funcs, row {n}: '{kind}' is not a reward of the menu "
                              f"(one of: {', '.join(REWARD_MODELS)}).", "Pick a type from the menu.")
        item: dict[str, Any] = {"type": kind}
        for k, f in REWARD_MODELS[kind].model_fields.items():
            v = rec.get(k)
            if k == "type" or _blank(v):
                continue
            if f.annotation is bool:
                v = v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes", "on")
            elif f.annotation is int and isinstance(v, float) and v.is_integer():
                v = int(v)
            elif hasattr(v, "item"):  # numpy scalars
                v = v.item()
            item[k] = v
        items.append(item)
    return items


def reward_menu_markdown() -> str:
    """The reward menu in words, one line per reward, from the config's own descriptions."""
    from ..config import REWARD_MODELS

    lines = []
    for kind, model in REWARD_MODELS.items():
        doc = " ".join((model.__doc__ or "").split())
        extra = [k for k in model.model_fields if k not in ("type", "weight")]
        lines.append(f"- `{kind}`" + (f" ({', '.join(extra)})" if extra else "") + f": {doc}")
    return "\n".join(lines)


def config_to_form(config: RunConfig | dict[str, Any], hw=None) -> dict[str, Any]:
    """A config → form values; settings the config leaves to the profile show the profile's value."""
    cfg = parse_config(config) if isinstance(config, dict) else config
    values = form_defaults(hw)
    for k in RunConfig.model_fields:
        v = getattr(cfg, k)
        if v is None:
            continue
        values[k] = form_value(k, v)
    values["task"] = cfg.task or AUTO_TASK
    values["run_name"] = cfg.run_name or ""
    return values


def config_yaml(values: dict[str, Any]) -> tuple[str, str | None]:
    """The YAML of the form's config, and the error when the form does not make a valid config.
    A model named by its folder in models/ is written as that folder's path, so the file also
    works with the CLI."""
    try:
        cfg = form_to_config(values)
    except ForgeError as e:
        return "", str(e)
    try:
        model = check_model_ref(cfg.model_name)
    except ForgeError as e:  # no such model, or a folder the page may not read: Start would refuse it
        text = str(e)
        return "", text if text.startswith("model_name:") else f"model_name: {text}"
    cfg.model_name = model
    return cfg.to_yaml(), None


def write_config_file(yaml_text: str) -> Path:
    """A downloadable config.yaml (one per content, in the system temp folder)."""
    import hashlib

    from ..housekeeping import configs_root

    d = configs_root() / hashlib.sha1(yaml_text.encode()).hexdigest()[:12]
    d.mkdir(parents=True, exist_ok=True)
    p = d / "config.yaml"
    if not p.is_file():
        p.write_text(yaml_text, encoding="utf-8")
    return p


# ---- memory estimate: the engine's figures as the form shows them ------------------------------

def memory_estimate(values: dict[str, Any], hw=None) -> tuple[str, bool]:
    """Markdown of the peak-memory estimate for the form's model and settings, and whether it
    carries a warning (the run will likely not fit)."""
    from ..memory import estimate_run, processes

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
