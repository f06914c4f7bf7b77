"""The plain-Python side of the Finetune tab: shared by its widgets and its API endpoints.

Nothing here imports gradio, and nothing trains: these functions turn form values into a
checked RunConfig, datasets into previews and problem lists, a run's event log into plot
tables, progress text and log lines, and run records into history rows. Heavy libraries
(torch, through ``hardware.detect``) load only when a function needs them.
"""

from __future__ import annotations

import asyncio
import collections
import html
import json
import math
import os
import re
import shutil
import time
import typing
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Callable

from ..config import EMBEDDED_MODEL, RunConfig, parse_config
from ..errors import ConfigError, DataError, ForgeError
from ..hardware import PROFILE_DEFAULTS
from ..settings import get_settings

TERMINAL = ("completed", "failed", "stopped", "interrupted")
ACTIVE = ("queued", "running")
AUTO_TASK = "auto"
MAX_UPLOAD_MB = int(os.environ.get("MODELFORGE_MAX_UPLOAD_MB", "200"))
DATASET_TYPES = [".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".txt"]
MAX_PLOT_POINTS = 1000  # a plot gets at most this many points per series, however long the run
LOG_LINES = 300
CLI_COMMAND = "python -m forge train config.yaml"

PROFILE_FIELDS = ("per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length", "max_steps",
                  "bf16", "fp16", "gradient_checkpointing")
# SmolLM2-135M's shape, for an estimate before the embedded model has been unpacked.
EMBEDDED_SHAPE = dict(hidden_size=576, num_hidden_layers=30, vocab_size=49152, intermediate_size=1536,
                      num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)


# ---- hardware, registries, defaults ----------------------------------------------------------

def hardware():
    from ..hardware import detect

    return detect()


def hardware_markdown(hw=None) -> str:
    hw = hw or hardware()
    if hw.gpus:
        dev = ", ".join(f"{g.name} ({g.memory_gb:.0f} GiB)" for g in hw.gpus)
    elif hw.mps:
        dev = "Apple GPU (MPS)"
    else:
        dev = f"CPU only: {hw.cpu_name} ({hw.cpu_count} cores)"
    lines = [f"**Device** {dev}", f"**Memory** {hw.accelerator_memory_gb:.0f} GiB"
             + (f" GPU · {hw.ram_gb:.0f} GiB RAM" if hw.gpus else " RAM"),
             f"**Profile** `{hw.profile}`" + (" · bf16" if hw.bf16 else "")
             + (" · short runs and small batches by default" if hw.profile == "cpu" else "")]
    return "  \n".join(lines)


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


# ---- sandbox for references coming from the page or the API ----------------------------------

def _looks_like_path(ref: str) -> bool:
    from ..catalog import HUB_ID

    p = Path(ref).expanduser()
    return p.is_absolute() or ref.startswith((".", "~")) or "\\" in ref or not HUB_ID.match(ref) or p.exists()


def check_model_ref(ref: str) -> str:
    """The model reference to put in a config from the page: the embedded default, a Hub id,
    or a folder inside the allowed folders (a bare name means a folder of the home's models/).
    Anything else raises SandboxError."""
    from ..catalog import is_embedded
    from ..sandbox import check_path

    ref = (ref or "").strip()
    if not ref:
        raise ConfigError("model_name: no model was given.", f"Leave the default ({EMBEDDED_MODEL}) or pick one.")
    if is_embedded(ref):
        return ref
    named = get_settings().models_dir / ref
    if "/" not in ref and "\\" not in ref and ref not in (".", "..") and named.is_dir():
        return str(check_path(named, "model"))
    if _looks_like_path(ref):
        p = Path(ref).expanduser()
        if not p.exists() and "/" not in ref and "\\" not in ref and not ref.startswith((".", "~")):
            raise ConfigError(f"model_name: there is no model named '{ref}': it is not a folder in models/, "
                              "nor a Hub id (org/name).",
                              f"Pick a model from the list, or give a Hub id like {EMBEDDED_MODEL}.")
        return str(check_path(p if p.is_absolute() else p.resolve(), "model"))
    return ref  # a Hub id


def check_dataset_ref(ref: str) -> str:
    """A dataset reference from the page: ``sample:NAME``, a Hub dataset id, or a file inside
    the allowed folders (a relative name means a file in the home's datasets/)."""
    from ..data import resolve_source

    ref = (ref or "").strip()
    if not ref:
        raise DataError("No dataset was given.", "Pick a sample dataset or upload a file.")
    resolve_source(ref, sandbox=True)
    return ref


def save_upload(src: str | Path, original_name: str | None = None) -> Path:
    """Copy an uploaded file into the home's datasets/ folder under a unique name."""
    src = Path(src)
    name = Path(original_name or src.name).name
    suffix = Path(name).suffix.lower()
    if suffix not in DATASET_TYPES:
        raise DataError(f"{name}: unsupported file type '{suffix or 'none'}'.",
                        "Upload a .jsonl, .json, .csv, .parquet or .txt file.")
    size = src.stat().st_size
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise DataError(f"{name} is {size / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB.",
                        "Upload a smaller file (or set MODELFORGE_MAX_UPLOAD_MB on the server).")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:60] or "dataset"
    dest = get_settings().datasets_dir / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}{suffix}"
    shutil.copyfile(src, dest)
    return dest


def validate_dataset(ref: str, task: str | None = None, display_name: str | None = None,
                     columns: dict[str, str] | None = None, model: str | None = None) -> dict[str, Any]:
    """Read and validate a dataset as the page would train on it (sandboxed), with the column
    mapping ``columns`` (RunConfig.columns) applied.

    Returns ``{ok, dataset, task, rows, notices, preview, problems, error, columns, templated}``;
    ``problems`` are ``{file, line, message, excerpt}`` with excerpts of at most 80 characters;
    ``columns`` are the file's own columns (also when it fails, so a mapping can be picked);
    the preview is rendered by ``model``'s chat template when its tokenizer is on this machine
    (``templated`` true).
    """
    from .. import data

    task = None if task in (None, "", AUTO_TASK) else task
    out: dict[str, Any] = {"ok": False, "dataset": ref, "task": task, "rows": 0, "notices": [], "preview": [],
                           "problems": [], "error": None, "columns": [], "templated": False}
    try:
        ref = check_dataset_ref(ref)
        ds = data.load(ref, task, sandbox=True, display_name=display_name, columns=columns)
    except ForgeError as e:
        out.update(error=e.message + (f"\nHow to fix: {e.hint}" if e.hint else "") if isinstance(e, DataError)
                   else str(e), problems=[p.to_dict() for p in getattr(e, "problems", None) or []],
                   columns=_file_columns(ref))
        return out
    except Exception as e:  # an unexpected failure is reported, not raised at the page
        out.update(error=f"The dataset could not be read: {type(e).__name__}: {str(e)[:200]}")
        return out
    out.update(ok=True, task=ds.task, rows=len(ds), notices=list(ds.notices), preview=ds.preview(5),
               columns=list(ds.columns))
    from ..data import rendered

    try:
        model = check_model_ref(model) if model else None  # a bare name is a folder of models/
    except ForgeError:  # a model the page cannot use: the preview keeps the plain roles
        model = None
    tok = rendered.tokenizer_for(model) if model else None
    if tok is not None:
        out.update(preview=rendered.rendered_rows(ds.rows, ds.task, tok, model), templated=True)
    return out


def _file_columns(ref: str) -> list[str]:
    """The columns of a dataset that failed to load (none when it cannot be read at all)."""
    from ..data import columns_of

    try:
        return columns_of(ref, sandbox=True)
    except Exception:  # unreadable: there is nothing to map
        return []


# ---- column mapping (RunConfig.columns) -------------------------------------------------------

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


def dataset_summary(result: dict[str, Any]) -> str:
    if result.get("ok"):
        from ..data import TASK_SPECS

        spec = TASK_SPECS.get(result["task"])
        text = f"✓ **{result['rows']} rows** ready · task **{result['task']}**" + (f" ({spec.label})" if spec else "")
        notes = [n for n in result.get("notices", [])]
        if result.get("templated"):
            notes.append("The preview shows the rows as the model's chat template renders them.")
        return text + ("  \n" + "  \n".join(html.escape(n) for n in notes) if notes else "")
    n = len(result.get("problems") or [])
    head = "✗ **This dataset cannot be used yet**" + (f": {n} problem(s) listed below" if n else "")
    return head


def problem_rows(result: dict[str, Any]) -> list[list[Any]]:
    return [[p.get("line") or "", p.get("message", ""), p.get("excerpt", "")] for p in result.get("problems") or []]


def preview_rows(result: dict[str, Any]) -> list[list[str]]:
    return [[r["prompt"], r["answer"]] for r in result.get("preview") or []]


# ---- form <-> config ------------------------------------------------------------------------

def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def _default_text(name: str) -> str:
    default = RunConfig.model_fields[name].default
    if default is None and name in PROFILE_FIELDS:
        default = PROFILE_DEFAULTS["cpu"].get(name)
    return "" if default is None else str(default)


def form_to_config(values: dict[str, Any]) -> RunConfig:  # noqa: C901 — one rule per form field; split per panel in the redesign
    """Form values (by RunConfig field name) → a validated RunConfig (ConfigError on bad fields)."""
    data: dict[str, Any] = {}
    strategy = values.get("strategy") or RunConfig.model_fields["strategy"].default
    hidden = set(all_strategy_settings()) - set(strategy_settings(strategy))
    for k, v in values.items():
        if k not in RunConfig.model_fields or k in hidden:
            continue
        if _blank(v):
            if field_spec(k)["kind"] in ("int", "float") and not blank_means_default(k):
                raise ConfigError(f"{k}: empty. Type a number.",
                                  f"The default is {_default_text(k)}." if _default_text(k) else None)
            continue
        if k == "task" and v == AUTO_TASK:
            continue
        if k == "reward_funcs":
            v = rows_to_rewards(v)
            if not v:
                continue
        if k == "max_steps" and v in (0, -1):
            v = -1
        if isinstance(v, str) and blank_means_default(k):
            v = v.strip()  # pydantic reads the number and names the field when it is not one
        f = RunConfig.model_fields[k]
        if field_spec(k)["kind"] == "json" and isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{k}: not valid JSON ({e.msg} at column {e.colno}).",
                                  "Write it as JSON, e.g. [] or [{\"type\": \"exact_match\"}].") from None
            if v == getattr(RunConfig(), k):
                continue
        if isinstance(v, float) and v.is_integer() and "int" in str(f.annotation) and "float" not in str(f.annotation):
            v = int(v)
        data[k] = v
    return parse_config(data)


# ---- strategy-specific settings -------------------------------------------------------------

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


# ---- GRPO rewards as a table: one row per reward, one column per setting of the menu --------

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
    import tempfile

    d = Path(tempfile.gettempdir()) / "modelforge-configs" / hashlib.sha1(yaml_text.encode()).hexdigest()[:12]
    d.mkdir(parents=True, exist_ok=True)
    p = d / "config.yaml"
    if not p.is_file():
        p.write_text(yaml_text, encoding="utf-8")
    return p


def prepare_submission(config: RunConfig | dict[str, Any]) -> RunConfig:
    """A config from the page or the API, checked against the sandbox (model and dataset paths)."""
    cfg = parse_config(config)
    model = check_model_ref(cfg.model_name)
    dataset = check_dataset_ref(cfg.dataset)
    reward = getattr(cfg, "reward_model", None)
    if reward:
        from ..runs import get_store

        if get_store().get_run(reward) is None:  # a run id names a reward model the server trained
            reward = check_model_ref(reward)
    if model != cfg.model_name or dataset != cfg.dataset or reward != getattr(cfg, "reward_model", None):
        data = cfg.model_dump()
        data.update(model_name=model, dataset=dataset)
        if reward:
            data["reward_model"] = reward
        out = RunConfig(**data)
        object.__setattr__(out, "__pydantic_fields_set__", set(cfg.model_fields_set))
        cfg = out
    return cfg


def submit(config: RunConfig | dict[str, Any], dataset_name: str | None = None) -> dict[str, Any]:
    """Check a config from the page or the API and queue it (sandboxed). Returns the run record."""
    from ..training import get_queue

    cfg = prepare_submission(config)
    return get_queue().submit(cfg, sandbox=True, dataset_name=dataset_name)


def stop(run_id: str | None = None, now: bool = False) -> dict[str, Any]:
    """Stop a run (the current one when no id is given): at the next step; at once when ``now``
    or when Stop was already pressed."""
    from ..training import get_queue

    q = get_queue()
    run_id = (run_id or "").strip() or (q.active_ids() or [None])[0]
    if not run_id:
        return {"run_id": None, "result": "no run is active"}
    _active_run[0] = -1e9
    return {"run_id": run_id, "result": q.stop(run_id, now=bool(now))}


def resume(run_id: str, max_steps: int | None = None, num_train_epochs: float | None = None) -> dict[str, Any]:
    """Resume a stopped, failed or interrupted run from its last checkpoint, or train a finished
    one further (a larger max_steps or num_train_epochs). Returns the run's record."""
    from ..training import get_queue

    _active_run[0] = -1e9
    return get_queue().resume(run_id, max_steps=max_steps, num_train_epochs=num_train_epochs)


# ---- memory estimate -------------------------------------------------------------------------

def _model_config(ref: str) -> dict[str, Any] | None:
    """The model's config.json as a dict, without loading the model (None when unknown here)."""
    from ..catalog import is_embedded

    if is_embedded(ref):
        p = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct" / "config.json"
        return json.loads(p.read_text()) if p.is_file() else dict(EMBEDDED_SHAPE)
    path = Path(ref).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():
            return json.loads((path / "config.json").read_text())
        if (path / "adapter_config.json").is_file():
            base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
            return _model_config(base) if base and base != ref else None
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(ref, "config.json")
        if isinstance(cached, str):
            return json.loads(Path(cached).read_text())
        from ..catalog import hub_reachable

        if hub_reachable(1.0):
            from huggingface_hub import hf_hub_download

            return json.loads(Path(hf_hub_download(ref, "config.json")).read_text())
    except Exception:
        return None
    return None


def memory_estimate(values: dict[str, Any], hw=None) -> tuple[str, bool]:
    """Markdown of the peak-memory estimate for the form's model and settings, and whether it
    carries a warning (the run will likely not fit)."""
    from ..hardware import ModelShape

    hw = hw or hardware()
    ref = (values.get("model_name") or "").strip()
    try:
        ref = check_model_ref(ref)
        cfg = _model_config(ref)
    except ForgeError as e:
        return f"No estimate: {e.message}", False
    except Exception:
        cfg = None
    if not cfg:
        return "No estimate for this model yet: its config is not on this machine (it is read when the run starts).", False
    cfg = cfg.get("text_config", cfg) if "hidden_size" not in cfg else cfg
    shape = ModelShape.from_config(SimpleNamespace(**cfg))
    if not shape.n_params:
        return "No estimate for this model: its config does not describe its size.", False
    n = _processes(values, hw)
    try:  # the run's own estimate: the config as it will train, profile defaults and strategy applied
        from ..config import resolve_defaults
        from ..hardware import estimate_run_memory, profile_defaults
        from ..strategies import get_strategy

        config = form_to_config(values)
        config = get_strategy(config.strategy).prepare_config(resolve_defaults(config, profile_defaults(hw)))
        est = estimate_run_memory(config, shape, hw, num_processes=n)
    except Exception as e:
        return f"No estimate: {type(e).__name__}", False
    lora_r, bits = config.lora_r, 4 if config.use_4bit else 8 if config.use_8bit else 16 if (config.bf16 or config.fp16) else 32
    size = f"{shape.n_params / 1e6:.0f}M parameters" if shape.n_params < 1e9 else f"{shape.n_params / 1e9:.1f}B parameters"
    per = f" per process ({n} processes, {values.get('distributed') or 'ddp'})" if n > 1 else ""
    text = (f"**Memory estimate** ({size}, {'LoRA r=' + str(lora_r) if lora_r else 'full fine-tuning'}, "
            f"{bits}-bit): ≈ **{est.total_gb:.2f} GiB** peak{per} of {est.available_gb:.0f} GiB "
            f"(weights {est.weights_gb:.2f}, gradients+optimizer {est.trainable_gb + est.optimizer_gb:.2f}, "
            f"activations {est.activations_gb:.2f})")
    from ..hardware import estimate_run_disk
    from ..settings import get_settings

    disk = estimate_run_disk(config, shape, get_settings().home)
    text += f"  \n**Disk**: {disk.summary()}"
    if est.warning:
        text += f"\n\n⚠ **Will not fit:** {est.warning}"
    if disk.warning:
        text += f"\n\n⚠ **Disk:** {disk.warning}"
    return text, bool(est.warning or disk.warning)


def _processes(values: dict[str, Any], hw) -> int:
    try:
        n = int(str(values.get("num_processes") or "").strip() or 0)
    except ValueError:
        n = 0
    return n or max(1, len(hw.gpus))


def devices_markdown(hw=None) -> str:
    """What the Devices settings can use on this machine."""
    hw = hw or hardware()
    if hw.gpus:
        return (f"This machine has **{len(hw.gpus)} GPU(s)**: a run uses one process per GPU unless you set "
                "Processes. With several, **ddp** keeps a copy of the model on each GPU; **fsdp** and "
                "**deepspeed** shard it. Runs start under `accelerate launch`; on several machines, use "
                "`python -m forge train --num-machines` (see the README).")
    return (f"This machine has **no GPU** ({hw.cpu_count} CPU cores): a run uses 1 process. Several CPU "
            "processes (ddp) work, mostly to try a multi-process set-up before a GPU machine.")


# ---- following a run's event log -------------------------------------------------------------

def _clock(seconds: float | None) -> str:
    if seconds is None or not isinstance(seconds, (int, float)) or math.isinf(seconds) or math.isnan(seconds):
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _thin(points: list[tuple], limit: int = MAX_PLOT_POINTS) -> list[tuple]:
    """At most ``limit`` points, evenly spaced, always keeping the last."""
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    out = points[::stride]
    if out[-1] is not points[-1]:
        out.append(points[-1])
    return out


def strategy_metric_keys(strategy: str | None = None) -> tuple[str, ...]:
    """The metrics a strategy plots (TRL's logged keys); every strategy's when none is named."""
    from ..strategies import STRATEGIES

    if strategy:
        cls = STRATEGIES.get(strategy)
        return tuple(getattr(cls, "metric_keys", ()) or ()) if cls else ()
    keys: list[str] = []
    for cls in STRATEGIES.values():
        keys += [k for k in getattr(cls, "metric_keys", ()) if k not in keys]
    return tuple(keys)


def strategy_series(key: str, phase: str | None) -> str:
    """A strategy-metric series name: the key, after the phase of a multi-stage run (RLHF: reward, policy)."""
    return key if phase in (None, "", "train", "final") else f"{phase} · {key}"


@dataclass
class RunView:
    """What a page shows of one run, folded from its events as they arrive."""

    run_id: str
    name: str = ""
    what: str = ""  # "model on dataset"
    status: str = "queued"
    message: str = ""
    position: int | None = None
    phase: str = "train"
    progress: dict[str, Any] = field(default_factory=dict)
    loss: list[tuple[float, float, str]] = field(default_factory=list)  # (step, value, series)
    lr: list[tuple[float, float, str]] = field(default_factory=list)  # (step, value, series)
    # the strategy's own metrics (its ``metric_keys``; every strategy's when the strategy is unknown)
    metric_keys: tuple[str, ...] | None = None
    strategy_points: list[tuple[float, float, str]] = field(default_factory=list)  # (step, value, series)
    # the series each plot will draw (eval loss, RLHF's phases), in its frame from its first point:
    # a streamed LinePlot keeps the colour scale of the series it first saw, so a later one stays undrawn
    expected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # plot (loss, lr, strategy) → series
    last_metrics: dict[str, Any] = field(default_factory=dict)
    log: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))
    result: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    error: str | None = None
    checkpoints: list = field(default_factory=list)  # steps of the checkpoints written
    offset: int = 0
    last_event_t: float | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None or self.status == "interrupted"

    def feed(self, events: list[dict[str, Any]]) -> set[str]:  # noqa: C901 — one branch per event kind; a handler table in the redesign
        """Fold new events in; returns what changed: status, progress, plots, log."""
        changed: set[str] = set()
        for ev in events:
            kind = ev.get("kind")
            self.last_event_t = ev.get("t", self.last_event_t)
            if kind == "status":
                self.status = ev.get("status", self.status)
                self.message = ev.get("message", "")
                if self.status in ACTIVE and self.result is not None:  # resumed after it ended
                    self.result, self.error = None, None
                if isinstance(ev.get("resume_step"), (int, float)):
                    self._rewind(ev["resume_step"])
                    changed.add("plots")
                if self.status == "failed" and self.message:
                    self.error = self.message
                changed.add("status")
                self._log(ev, f"[{self.status}] {self.message}" if self.message else f"[{self.status}]")
                changed.add("log")
            elif kind == "log":
                self._log(ev, (f"{ev['level'].upper()}: " if ev.get("level") in ("warning", "error") else "")
                          + str(ev.get("message", "")))
                changed.add("log")
            elif kind == "metrics":
                self._metrics(ev)
                changed.add("plots")
            elif kind == "progress":
                # while evaluating, the training's last figures (epoch, tokens/s) stay beside what it does
                self.progress = {**self.progress, **ev} if ev.get("activity") else ev
                changed.add("progress")
            elif kind == "phase":
                self.phase = ev.get("name", self.phase)
                index = ev.get("index")
                self._log(ev, f"Phase {index + 1 if isinstance(index, int) else '?'}/{ev.get('total', '?')}: "
                              f"{self.phase}")
                changed.update({"progress", "log"})
            elif kind == "checkpoint":
                self.checkpoints.append(ev.get("step"))
                self._log(ev, f"Checkpoint saved at step {ev.get('step')}.")
                changed.add("log")
            elif kind == "evaluation":
                self.evaluation = {k: v for k, v in ev.items() if k not in ("t", "kind")}
                changed.add("evaluation")
            elif kind == "result":
                self.result = ev
                self.status = ev.get("status", self.status)
                if ev.get("error"):
                    self.error = ev["error"]
                changed.update({"status", "progress"})
        return changed

    def _rewind(self, step: float) -> None:
        """Drop the points logged after ``step``: a resumed run trains them again from its checkpoint."""
        self.loss = [p for p in self.loss if p[0] <= step]
        self.lr = [p for p in self.lr if p[0] <= step]
        self.strategy_points = [p for p in self.strategy_points if p[0] <= step]
        self.progress = {}

    def _log(self, ev: dict[str, Any], text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(ev.get("t") or time.time()))
        for i, line in enumerate(text.splitlines() or [""]):
            self.log.append(f"{stamp}  {line}" if i == 0 else f"          {line}")

    def _metrics(self, ev: dict[str, Any]) -> None:
        step = ev.get("step")
        if not isinstance(step, (int, float)):
            return
        phase = ev.get("phase") or "train"
        prefix = "" if phase in ("train", "final") else f"{phase} "
        if isinstance(ev.get("loss"), (int, float)):
            self.loss.append((step, float(ev["loss"]), f"{prefix}train loss"))
        if isinstance(ev.get("eval_loss"), (int, float)):
            self.loss.append((step, float(ev["eval_loss"]), f"{prefix}eval loss"))
        if isinstance(ev.get("learning_rate"), (int, float)):
            self.lr.append((step, float(ev["learning_rate"]), f"{prefix}learning rate"))
        for key in self.metric_keys if self.metric_keys is not None else strategy_metric_keys():
            v = ev.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                self.strategy_points.append((step, float(v), strategy_series(key, phase)))
        self.last_metrics.update({k: v for k, v in ev.items() if k not in ("t", "kind")})

    # ---- what a page shows ---------------------------------------------------------------
    def _series_frame(self, points: list[tuple], value: str, plot: str):
        """(step, value, series) points as a plot's frame, thinned per series, with an empty point
        (NaN, not drawn) for each series still to come."""
        import pandas as pd

        by_series: dict[str, list[tuple]] = collections.defaultdict(list)
        for p in points:
            by_series[p[2]].append(p)
        rows = [p for pts in by_series.values() for p in _thin(pts)]
        if rows:
            rows += [(rows[0][0], math.nan, name) for name in self.expected.get(plot, ()) if name not in by_series]
        return pd.DataFrame(rows, columns=["step", value, "series"])

    def loss_frame(self):
        return self._series_frame(self.loss, "loss", "loss")

    def strategy_frame(self):
        """The strategy's own metrics against step: one series per metric and phase."""
        return self._series_frame(self.strategy_points, "value", "strategy")

    def lr_frame(self):
        return self._series_frame(self.lr, "learning_rate", "lr")

    def log_text(self) -> str:
        return "\n".join(self.log)

    def progress_fraction(self) -> float:
        if self.status == "completed":
            return 1.0
        step, total = self.progress.get("step") or 0, self.progress.get("max_steps") or 0
        return max(0.0, min(1.0, step / total)) if total else 0.0

    def progress_text(self) -> str:
        p = self.progress
        if not p:
            return {"queued": "Waiting in the queue…", "running": "Preparing: reading data, loading the model…"}.get(
                self.status, "")
        activity = p.get("activity") if self.status == "running" else None
        if activity:  # evaluating: what, how far, and the clock still running
            done = f" {p['done']} / {p['total']}" if p.get("total") else ""
            parts = [f"{str(activity).capitalize()}{done}", f"after step {p.get('step', 0)} / {p.get('max_steps') or '?'}",
                     f"ETA {_clock(p.get('eta'))}", f"elapsed {_clock(p.get('elapsed'))}"]
            return " · ".join(parts)
        parts = [f"Step {p.get('step', 0)} / {p.get('max_steps') or '?'}",
                 f"epoch {float(p.get('epoch') or 0):.2f}",
                 f"ETA {_clock(p.get('eta')) if self.status == 'running' else '–'}",
                 f"{float(p.get('tokens_per_second') or 0):,.0f} tokens/s",
                 f"elapsed {_clock(p.get('elapsed'))}"]
        memory = self.last_metrics.get("process_memory_gb")
        if isinstance(memory, list) and memory:
            parts.append(("memory " if len(memory) == 1 else f"memory per process ({len(memory)}) ")
                         + " / ".join(f"{float(m):.1f}" for m in memory) + " GiB")
        if self.phase and self.phase != "train":
            parts.insert(0, f"phase {self.phase}")
        return " · ".join(parts)

    def progress_html(self) -> str:
        pct = self.progress_fraction() * 100
        state = self.status if self.status in TERMINAL else "active"
        return (f'<div class="mf-progress mf-{state}" data-status="{html.escape(self.status)}" '
                f'data-step="{int(self.progress.get("step") or 0)}">'
                f'<div class="mf-bar"><div class="mf-fill" style="width:{pct:.1f}%"></div></div>'
                f'<div class="mf-progress-text">{html.escape(self.progress_text())}</div></div>')

    def status_markdown(self) -> str:
        icon = {"queued": "…", "running": "▶", "completed": "✓", "failed": "✗", "stopped": "■",
                "interrupted": "⚠"}.get(self.status, "•")
        word = {"queued": "Queued", "running": "Evaluating" if self.progress.get("activity") else "Training",
                "completed": "Completed", "failed": "Failed", "stopped": "Stopped",
                "interrupted": "Interrupted"}.get(self.status, self.status)
        head = (f"{icon} **{word}** · run {md_code(self.name or self.run_id)}"
                + (f" · {md_text(self.what)}" if self.what else ""))
        detail = ""
        if self.status == "queued":
            if self.position:
                detail = f"Position in the queue: {self.position} run(s) ahead of this one."
            else:
                detail = self.message or "Starting…"
        elif self.status == "running":
            detail = self.message if self.message and self.message != "Run started" else ""
        elif self.status == "completed":
            out = (self.result or {}).get("output_dir")
            loss = (self.result or {}).get("metrics", {}).get("loss")
            detail = "Run completed." + (f" Final training loss {loss:.4f}." if isinstance(loss, (int, float)) else "") \
                + (f" Saved to {md_code(out)}." if out else "")
        elif self.status == "stopped":
            detail = self.message or "Run stopped."
        elif self.status == "interrupted":
            detail = self.message
        elif self.status == "failed":
            detail = "See the error below."
        return head + (f"  \n{detail}" if detail else "")

    def update(self, new_events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A JSON-ready progress update for API clients."""
        p = self.progress
        m = self.last_metrics
        return {
            "run_id": self.run_id, "name": self.name, "status": self.status, "message": self.message,
            "queue_position": self.position, "finished": self.finished,
            "step": p.get("step"), "max_steps": p.get("max_steps"), "epoch": p.get("epoch"), "eta": p.get("eta"),
            "tokens_per_second": p.get("tokens_per_second"),
            "loss": next((v for s, v, n in reversed(self.loss) if n.endswith("train loss")), None),
            "eval_loss": next((v for s, v, n in reversed(self.loss) if n.endswith("eval loss")), None),
            "learning_rate": self.lr[-1][1] if self.lr else None,
            "metrics": (self.result or {}).get("metrics") or {k: v for k, v in m.items() if isinstance(v, (int, float))},
            "output_dir": (self.result or {}).get("output_dir"), "error": self.error,
            "evaluation": self.evaluation,
            "events": list(new_events or []),
        }


def log_html(lines) -> str:
    """The log tail as HTML (escaped), newest line last."""
    body = html.escape("\n".join(lines)) if lines else "The run's log appears here."
    return f'<pre class="mf-log-pre">{body}</pre>'


def start_label() -> str:
    """What Start will do: start at once, or queue behind the runs ahead (one trains at a time)."""
    from ..training import get_queue

    ahead = len(get_queue().active_ids())
    if not ahead:
        return "Start training"
    return "Queue after the current run" if ahead == 1 else f"Queue after {ahead} runs"


def find_active_run() -> str | None:
    """The run a freshly opened page should show: the one training now, else the next queued,
    whichever process (this server, another, the CLI) queued it."""
    from ..training import get_queue

    now = time.monotonic()
    cached_at, cached = _active_run
    if now - cached_at < ACTIVE_RUN_TTL:  # every open page asks twice a second: read the store less often
        return cached
    ids = get_queue().active_ids()
    found = ids[0] if ids else None
    _active_run[:] = [now, found]
    return found


def last_ended_run() -> str | None:
    """The newest run when it has ended (what the live area keeps showing until the next starts)."""
    from ..runs import get_store

    runs = get_store().list_runs()
    return runs[0]["id"] if runs and runs[0].get("status") in TERMINAL else None


FINAL_METRICS = ("train_loss", "loss", "eval_loss", "eval_perplexity", "train_runtime", "train_samples_per_second")


def final_metrics_markdown(view: RunView) -> str:
    """A finished run's final metrics, as one table row (the keys runs report first)."""
    metrics = {k: v for k, v in ((view.result or {}).get("metrics") or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not metrics:
        return ""
    keys = [k for k in FINAL_METRICS if k in metrics] + sorted(k for k in metrics if k not in FINAL_METRICS)
    return "**Final metrics**\n\n" + _md_table(["Metric", "Value"], [[k, _num(metrics[k], "{:.4g}")]
                                                                     for k in keys[:8]])


ACTIVE_RUN_TTL = 1.0
_active_run: list = [-1e9, None]


def new_view(run_id: str) -> RunView:
    from ..runs import get_store

    rec = get_store().get_run(run_id)
    if rec is None:
        raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the history, or start one.")
    what = " on ".join(x for x in (_short_model(rec.get("base_model")), _short_model(rec.get("dataset"))) if x)
    strategy = rec.get("strategy") or (rec.get("config") or {}).get("strategy") or "sft"
    return RunView(run_id=run_id, name=rec.get("name") or run_id, status=rec.get("status", "queued"), what=what,
                   metric_keys=strategy_metric_keys(strategy), expected=expected_series(rec, strategy))


def expected_series(rec: dict[str, Any], strategy: str) -> dict[str, tuple[str, ...]]:
    """The series a run's plots will draw: train and eval loss (eval when it holds out rows), the
    learning rate and the strategy's metrics; per phase for a strategy that trains in phases (RLHF)."""
    from ..strategies import STRATEGIES

    config = rec.get("config") or {}
    evals = bool(config.get("eval_split", RunConfig.model_fields["eval_split"].default))
    cls = STRATEGIES.get(strategy)
    phases = cls().plotted_phases(config) if cls else {"": ()}
    out: dict[str, list[str]] = {"loss": [], "lr": [], "strategy": []}
    for phase, keys in phases.items():
        prefix = f"{phase} " if phase else ""
        out["loss"] += [f"{prefix}train loss"] + ([f"{prefix}eval loss"] if evals else [])
        out["lr"].append(f"{prefix}learning rate")
        out["strategy"] += [strategy_series(k, phase or None) for k in keys if evals or not k.startswith("eval_")]
    return {k: tuple(v) for k, v in out.items()}


async def follow(run_id: str, *, poll: float = 0.2, heartbeat: float = 10.0,
                 until: Callable[[], bool] | None = None,
                 ) -> AsyncIterator[tuple[RunView, list[dict[str, Any]], set[str]]]:
    """Follow a run's event log from the start to its end, reading only what was appended.

    Yields ``(view, new_events, changed)`` whenever something changed (and every
    ``heartbeat`` seconds otherwise); the last yield has ``view.finished`` true. ``until``,
    checked at every poll, ends the following early when it returns true.
    """
    from ..runs import get_store
    from ..training import get_queue, read_events
    from ..training.job import run_dir

    view = new_view(run_id)
    rec = get_store().get_run(run_id) or {}
    path = Path(rec.get("events_path") or run_dir(run_id) / "events.jsonl")
    queue = get_queue()
    last_yield = 0.0
    last_store_check = time.monotonic()
    first = True
    while True:
        if until is not None and until():
            return
        events, view.offset = read_events(path, view.offset)
        changed = view.feed(events)
        if view.status == "queued":
            pos = queue.position(run_id)
            if pos != view.position:
                view.position = pos
                changed.add("status")
        now = time.monotonic()
        if not view.finished and not events and now - last_store_check > 5.0:
            # a run whose process died without a final event: trust the store
            last_store_check = now
            rec = get_store().get_run(run_id) or {}
            if rec.get("status") in TERMINAL:
                events, view.offset = read_events(path, view.offset)
                changed |= view.feed(events)
                if not view.finished:
                    view.status = rec["status"]
                    view.error = view.error or rec.get("error")
                    view.result = {"status": rec["status"], "metrics": rec.get("metrics") or {},
                                   "output_dir": rec.get("output_dir"), "error": rec.get("error")}
                    changed.add("status")
        if first or changed or now - last_yield >= heartbeat:
            first = False
            last_yield = now
            yield view, events, changed or {"heartbeat"}
        if view.finished:
            return
        await asyncio.sleep(poll)


# ---- history ---------------------------------------------------------------------------------

HISTORY_HEADERS = ["Name", "Model", "Task", "Strategy", "Status", "Duration", "Final loss", "Eval loss", "Started", "Id"]


def _short_model(ref: str | None) -> str:
    if not ref:
        return ""
    if ref.startswith("sample:"):
        return ref.split(":", 1)[1]
    p = Path(ref)
    return p.name if (p.is_absolute() or ref.startswith((".", "~"))) else ref


def _num(v: Any, fmt: str = "{:.4f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and not math.isnan(v) and not math.isinf(v) else ""


def run_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A run record reduced to what a list of runs shows (JSON-ready)."""
    started, finished = rec.get("started"), rec.get("finished")
    end = finished or (time.time() if rec.get("status") == "running" else None)
    duration = (end - started) if started and end else None
    m = rec.get("metrics") or {}
    return {"id": rec["id"], "name": rec.get("name") or rec["id"], "model": rec.get("base_model"),
            "task": rec.get("task"), "strategy": rec.get("strategy"), "status": rec.get("status"),
            "created": rec.get("created"), "started": started, "finished": finished,
            "duration_s": round(duration, 1) if duration is not None else None,
            "final_loss": m.get("loss", m.get("train_loss")), "eval_loss": m.get("eval_loss"),
            "dataset": rec.get("dataset"), "output_dir": rec.get("output_dir"), "error": rec.get("error")}


def list_runs() -> list[dict[str, Any]]:
    from ..runs import get_store

    return [run_summary(r) for r in get_store().list_runs()]


def history_rows(runs: list[dict[str, Any]] | None = None) -> list[list[Any]]:
    rows = []
    for s in runs if runs is not None else list_runs():
        started = s.get("started") or s.get("created")
        rows.append([s["name"], _short_model(s["model"]), s["task"] or "", s["strategy"] or "", s["status"] or "",
                     _clock(s["duration_s"]) if s["duration_s"] is not None else "", _num(s["final_loss"]),
                     _num(s["eval_loss"]),
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else "", s["id"]])
    return rows


def run_detail(run_id: str) -> dict[str, Any]:
    """One run: its record, its config, final metrics and metric history (from its event log)."""
    from ..runs import get_store
    from ..training import read_all
    from ..training.job import run_dir

    rec = get_store().get_run((run_id or "").strip())
    if rec is None:
        raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs (/runs).")
    path = Path(rec.get("events_path") or run_dir(rec["id"]) / "events.jsonl")
    view = RunView(run_id=rec["id"], name=rec.get("name") or rec["id"], status=rec.get("status", ""),
                   metric_keys=strategy_metric_keys(rec.get("strategy") or (rec.get("config") or {}).get("strategy")
                                                    or "sft"))
    view.feed(read_all(path))
    history: dict[str, list[list[float]]] = collections.defaultdict(list)
    for step, value, series in view.loss:
        history["eval_loss" if series.endswith("eval loss") else "loss"].append([step, value])
    for step, value, _series in view.lr:
        history["learning_rate"].append([step, value])
    for step, value, series in view.strategy_points:
        history[series].append([step, value])
    config_path = Path(rec.get("run_dir") or run_dir(rec["id"])) / "config.yaml"
    from ..training import checkpoints, launch

    return {**run_summary(rec), "config": rec.get("config") or {},
            "checkpoints": checkpoints.describe(Path(rec.get("run_dir") or run_dir(rec["id"])) / "checkpoints"),
            "launch": rec.get("launch") or {}, "devices": launch.describe(rec.get("launch")),
            "resumable": rec.get("status") in ("stopped", "failed", "interrupted", "completed"), "config_set": rec.get("config_set") or [],
            "resolved_config_yaml": config_path.read_text(encoding="utf-8") if config_path.is_file() else None,
            "metrics": rec.get("metrics") or {}, "history": dict(history), "provider": rec.get("provider"),
            "evaluation": rec.get("evaluation") or view.evaluation, "tensorboard_dir": tensorboard_dir(rec),
            "log_tail": list(view.log)[-50:], "_view": view}


COMPARED_CURVES = ("loss", "eval_loss", "learning_rate")
MAX_COMPARED = 8


def compare_runs(run_ids: list[str] | str) -> dict[str, Any]:
    """Two or more runs side by side: their loss, eval loss and learning-rate curves (one series
    per run, on the same steps), their final metrics, and the settings in which they differ."""
    ids = [i.strip() for i in (run_ids.replace(",", " ").split() if isinstance(run_ids, str) else run_ids or [])
           if i and i.strip()]
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2:
        raise ForgeError("Pick at least two runs to compare.", "Select them in the history (or give their ids).")
    if len(ids) > MAX_COMPARED:
        raise ForgeError(f"{len(ids)} runs were picked; at most {MAX_COMPARED} are compared at once.",
                         "Pick fewer runs.")
    details = [run_detail(i) for i in ids]
    names = _distinct_names(details)
    curves: dict[str, list[dict[str, Any]]] = {k: [] for k in COMPARED_CURVES}
    for d, name in zip(details, names):
        for key in COMPARED_CURVES:
            curves[key] += [{"run": name, "step": step, "value": value} for step, value in d["history"].get(key, [])]
    metric_keys = sorted({k for d in details for k, v in d["metrics"].items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)})
    metrics = {k: {name: d["metrics"].get(k) for d, name in zip(details, names)} for k in metric_keys}
    configs = [d.get("config") or {} for d in details]
    keys = sorted({k for c in configs for k in c})
    settings = {k: {name: c.get(k) for c, name in zip(configs, names)} for k in keys
                if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1}
    return {"runs": [{k: d[k] for k in ("id", "name", "status", "strategy", "model", "dataset") if k in d}
                     for d in details], "names": names, "curves": curves, "metrics": metrics, "settings": settings}


def _distinct_names(details: list[dict[str, Any]]) -> list[str]:
    """Each run's name, with its id added where two runs share a name (a plot needs one per series)."""
    counts = collections.Counter(d["name"] for d in details)
    return [d["name"] if counts[d["name"]] == 1 else f"{d['name']} ({d['id']})" for d in details]


def reusable_config(run_id: str) -> dict[str, Any]:
    """A past run's config as the user set it (profile-filled values left to the profile)."""
    from ..runs import get_store

    rec = get_store().get_run(run_id)
    if rec is None:
        raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the history.")
    cfg = dict(rec.get("config") or {})
    keep = set(rec.get("config_set") or cfg)
    return {k: v for k, v in cfg.items() if k in keep}


# ---- evaluation: metrics before/after, samples, comparisons ------------------------------------

METRIC_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "exact_match": "Exact match",
                 "f1": "F1", "perplexity": "Perplexity", "loss": "Loss"}
LOWER_IS_BETTER = ("perplexity", "loss")
METRICS_HEADERS = ["Metric", "Base model", "Fine-tuned", "Change"]
BEFORE_AFTER_HEADERS = ["Prompt", "Reference", "Base model", "Fine-tuned"]


def _metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


def evaluation_metric_rows(evaluation: dict[str, Any] | None) -> list[list[str]]:
    """The task metrics of the base model and the fine-tuned model side by side, with the change
    (marked ✓ when it is an improvement: up for scores, down for perplexity and loss)."""
    ev = evaluation or {}
    tuned, base = ev.get("metrics") or {}, ev.get("base_metrics") or {}
    rows = []
    for k in list(tuned) + [k for k in base if k not in tuned]:
        a, b = tuned.get(k), base.get(k)
        change = ""
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isfinite(a) and math.isfinite(b):
            d = a - b
            better = d < 0 if k in LOWER_IS_BETTER else d > 0
            change = f"{d:+.4f}" + (" ✓" if better else "")
        rows.append([_metric_label(k), _num(b), _num(a), change])
    return rows


def before_after_rows(evaluation: dict[str, Any] | None, limit: int | None = None,
                      width: int | None = None) -> list[list[str]]:
    """The held-out prompts with the reference, the base model's answer and the fine-tuned
    model's answer (texts cut to ``width`` characters when given)."""
    def cut(v: Any) -> str:
        t = "" if v is None else str(v)
        return t if width is None or len(t) <= width else t[: width - 1] + "…"

    samples = (evaluation or {}).get("samples") or []
    return [[cut(s.get("prompt")), cut(s.get("reference")),
             cut(s.get("before")) if s.get("before") is not None else "(not measured)", cut(s.get("after"))]
            for s in samples[:limit]]


def md_text(v: Any) -> str:
    """A user's text (a run or model name) shown as text inside Markdown: no markup, no HTML."""
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", html.escape(str(v), quote=False))


def md_code(v: Any) -> str:
    """A user's text as an inline code span, whatever backticks it holds."""
    text = str(v).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_cell(v: Any) -> str:
    return html.escape(str(v)).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def tensorboard_dir(rec: dict[str, Any]) -> str | None:
    """Where a run's TensorBoard logs are (None when it wrote none)."""
    from ..training.job import run_dir

    d = Path(rec.get("run_dir") or run_dir(rec["id"])) / "checkpoints" / "runs"
    return str(d) if d.is_dir() else None


def tensorboard_markdown(folder: str | None) -> str:
    if folder:
        return f"TensorBoard logs: `{folder}` (view them with `tensorboard --logdir {folder}`)"
    if os.environ.get("MODELFORGE_DISABLE_TENSORBOARD"):
        return "TensorBoard logs: disabled (MODELFORGE_DISABLE_TENSORBOARD is set)"
    return "TensorBoard logs: none written for this run"


def evaluation_markdown(evaluation: dict[str, Any] | None, samples: int = 3, width: int = 300) -> str:
    """The end-of-run evaluation as the Finetune tab shows it: the metrics of the base and of the
    fine-tuned model, and the first few before/after answers."""
    ev = evaluation or {}
    if not ev:
        return ""
    n, secs = ev.get("n"), ev.get("seconds")
    parts = [f"#### Evaluation on {n} held-out example(s)" + (f" ({secs:.1f} s)" if isinstance(secs, (int, float)) else "")]
    rows = evaluation_metric_rows(ev)
    if rows:
        parts.append(_md_table(METRICS_HEADERS, rows))
    ba = before_after_rows(ev, limit=samples, width=width)
    if ba:
        parts.append(f"**Before / after** (the first {len(ba)}; all of them on the Models tab)")
        parts.append(_md_table(BEFORE_AFTER_HEADERS, ba))
    return "\n\n".join(parts)


def comparison_rows(evaluations: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Stored evaluations (``forge.evaluation.evaluate_model`` records) as one table: model, kind,
    examples, then one column per metric any of them has, then when and the id."""
    keys: list[str] = []
    for e in evaluations:
        for k in (e.get("metrics") or {}):
            if k not in keys:
                keys.append(k)
    headers = ["Model", "Kind", "Task", "Examples"] + [_metric_label(k) for k in keys] + ["When", "Id"]
    rows = []
    for e in evaluations:
        m = e.get("metrics") or {}
        when = e.get("created")
        rows.append([e.get("label") or _short_model(e.get("model")), e.get("kind") or "", e.get("task") or "",
                     e.get("n") or 0] + [_num(m.get(k)) for k in keys]
                    + [time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else "", e.get("id") or ""])
    return headers, rows


def list_evaluations(dataset: str | None = None) -> list[dict[str, Any]]:
    from ..runs import get_store

    return get_store().list_evaluations(dataset or None)
