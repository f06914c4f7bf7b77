"""RunConfig: the one description of a run, shared by YAML files, the page and the API.

Keys follow transformers' ``TrainingArguments`` and TRL's config names wherever one exists.
Settings whose best value depends on the machine (batch size, sequence length, run length,
precision) default to ``None`` and are filled from the hardware profile by
:func:`resolve_defaults`; a value the user gave always wins.

Full fine-tuning versus LoRA: ``lora_r: 0`` trains every weight of the model (full
fine-tuning); any ``lora_r > 0`` trains a LoRA adapter of that rank.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

EMBEDDED_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"

TASKS = ("text-generation", "chat", "summarization", "extractive-qa", "preference", "feedback", "prompt")
Task = Literal["text-generation", "chat", "summarization", "extractive-qa", "preference", "feedback", "prompt"]
Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay",
]


class RunConfig(BaseModel):
    """Everything needed to reproduce a fine-tuning run."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    # What to train
    model_name: str = Field(EMBEDDED_MODEL, min_length=1, description="Base model: hub id, local folder, or the embedded default.")
    task: Task | None = Field(None, description="Dataset task; detected from the columns when left empty.")
    strategy: str = Field("sft", description="Training strategy (see `python -m forge strategies`).")
    provider: str = Field("auto", description="How weights are loaded: auto, huggingface, unsloth.")
    dataset: str = Field("sample:pirate_persona", min_length=1, description="Dataset file, hub dataset id, or sample:NAME.")
    eval_split: float = Field(0.1, ge=0.0, le=0.5, description="Fraction of rows held out for evaluation (0 to 0.5).")
    max_samples: int | None = Field(None, ge=1, description="Use at most this many rows of the dataset.")
    run_name: str | None = Field(None, max_length=100, description="A name for the run (generated when empty).")

    # Length of training
    num_train_epochs: float = Field(1.0, gt=0, le=1000, description="Passes over the training rows.")
    max_steps: int | None = Field(None, ge=-1, description="Stop after this many optimizer steps (-1: use epochs).")

    # Optimisation
    learning_rate: float = Field(2e-4, gt=0, le=1.0, description="Peak learning rate.")
    per_device_train_batch_size: int | None = Field(None, ge=1, le=1024)
    gradient_accumulation_steps: int | None = Field(None, ge=1, le=1024)
    max_seq_length: int | None = Field(None, ge=16, le=131072, description="Longest tokenized example; longer ones are truncated.")
    warmup_ratio: float = Field(0.03, ge=0.0, le=1.0)
    lr_scheduler_type: Scheduler = "linear"
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    max_grad_norm: float = Field(1.0, ge=0.0)
    seed: int = Field(42, ge=0)
    packing: bool = False
    gradient_checkpointing: bool | None = None
    bf16: bool | None = None
    fp16: bool | None = None

    # Logging, evaluation, checkpoints
    logging_steps: int = Field(1, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps (default: about 5 times per run).")
    save_steps: int | None = Field(None, ge=1, description="Checkpoint every N steps (default: about 4 times per run).")
    save_total_limit: int = Field(2, ge=1, le=100, description="Checkpoints kept on disk.")

    # LoRA
    lora_r: int = Field(16, ge=0, le=1024, description="LoRA rank; 0 means full fine-tuning.")
    lora_alpha: int = Field(32, ge=1, le=4096)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = Field("all-linear", description="Modules LoRA adapts: a list of names or 'all-linear'.")

    # Quantization (bitsandbytes)
    use_4bit: bool = False
    use_8bit: bool = False
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_compute_dtype: Literal["float32", "float16", "bfloat16"] | None = None
    use_nested_quant: bool = False

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, v):
        if isinstance(v, str):
            v = v.strip()
            if v in ("all-linear", "all_linear"):
                return "all-linear"
            v = [m.strip() for m in v.split(",")]
        v = [m for m in v if m]
        if not v:
            raise ValueError("name at least one module, or 'all-linear'")
        return v

    @field_validator("strategy", "provider")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @model_validator(mode="after")
    def _consistent(self):
        if self.use_4bit and self.use_8bit:
            raise ValueError("use_4bit and use_8bit cannot both be true: pick one quantization")
        if (self.use_4bit or self.use_8bit) and self.lora_r == 0:
            raise ValueError("a quantized model cannot be fully fine-tuned: set lora_r > 0 (LoRA) or turn off use_4bit/use_8bit")
        return self

    # ---- I/O ----------------------------------------------------------------------------
    def to_dict(self, *, only_set: bool = False) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=only_set)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def user_fields(self) -> set[str]:
        return set(self.model_fields_set)


def describe_field(name: str) -> str:
    """The allowed values of a field, in words, for error messages."""
    f = RunConfig.model_fields.get(name)
    if f is None:
        return ""
    bounds = []
    for m in f.metadata:
        for attr, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{word} {getattr(m, attr)}")
    ann = str(f.annotation)
    if "Literal" in ann:
        import typing

        def literals(t):
            out = []
            for a in typing.get_args(t):
                if typing.get_origin(a) is Literal:
                    out += list(typing.get_args(a))
                elif a is not type(None):
                    out += literals(a) if typing.get_args(a) else []
            if typing.get_origin(t) is Literal:
                out += list(typing.get_args(t))
            return out

        vals = literals(f.annotation)
        if vals:
            return "one of: " + ", ".join(map(str, vals))
    return ("allowed: " + " and ".join(bounds)) if bounds else ""


def _format_validation(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "config"
        if e["type"] == "extra_forbidden":
            import difflib

            close = difflib.get_close_matches(str(e["loc"][0]), RunConfig.model_fields, n=1)
            tip = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"{loc}: unknown setting{tip}")
            continue
        field = str(e["loc"][0]) if e["loc"] else ""
        allowed = describe_field(field)
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" + (f" ({allowed})" if allowed and allowed not in msg else ""))
    return "\n".join(lines)


def parse_config(data: dict[str, Any] | RunConfig) -> RunConfig:
    """Validate a mapping into a RunConfig, raising ConfigError naming each bad field."""
    if isinstance(data, RunConfig):
        return data
    if not isinstance(data, dict):
        raise ConfigError("A run config must be a mapping of setting names to values.",
                          "Write it as `key: value` lines (YAML) or a JSON object.")
    try:
        return RunConfig(**data)
    except ValidationError as e:
        raise ConfigError("The run config has invalid settings:\n" + _format_validation(e),
                          "Correct the named fields; `python -m forge config --help-fields` lists them all.") from None


def load_config(path: str | Path) -> RunConfig:
    """Read a RunConfig from a YAML or JSON file."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file not found: {p}", "Give the path of a .yaml or .json file.")
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        line = (line + 1) if line is not None else getattr(e, "lineno", "?")
        raise ConfigError(f"{p}, line {line}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}.",
                          "Check the indentation and quoting on that line.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not UTF-8 text.", "Save the file as UTF-8.") from None
    try:
        return parse_config(data or {})
    except ConfigError as e:
        raise ConfigError(f"{p}: {e.message}", e.hint) from None


def resolve_defaults(config: RunConfig, profile_defaults: dict[str, Any]) -> RunConfig:
    """Fill the fields the user left unset from the hardware profile's defaults."""
    updates = {k: v for k, v in profile_defaults.items()
               if k in RunConfig.model_fields and k not in config.model_fields_set and getattr(config, k) is None}
    if "num_train_epochs" in config.model_fields_set and "max_steps" not in config.model_fields_set:
        updates["max_steps"] = -1  # the user asked for epochs: a profile's step cap must not override it
    data = config.model_dump()
    data.update(updates)
    out = RunConfig(**data)
    # keep the record of what the user set
    object.__setattr__(out, "__pydantic_fields_set__", set(config.model_fields_set))
    return out
