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
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .catalog import EMBEDDED_MODEL  # the default model_name
from .errors import ConfigError

Task = Literal["text-generation", "chat", "summarization", "extractive-qa", "preference", "feedback", "prompt"]
Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay",
]


# Loss formulations each alignment strategy accepts (TRL's names); the first is TRL's default.
LOSS_TYPES: dict[str, tuple[str, ...]] = {
    "dpo": ("sigmoid", "ipo", "hinge", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot",
            "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm"),
    "kto": ("kto", "apo_zero_unpaired"),
    "grpo": ("dapo", "grpo", "dr_grpo", "bnpo", "cispo", "sapo"),
}
MAX_PATTERN_LENGTH = 500


# ---- GRPO reward menu: each item is data, never code ------------------------------------------

class _Reward(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = Field(1.0, ge=-10.0, le=10.0, description="Weight of this reward in the sum (-10 to 10).")


class ExactMatchReward(_Reward):
    """1 when the completion equals the row's reference ``answer`` (case and surrounding spaces ignored)."""

    type: Literal["exact_match"]
    ignore_case: bool = True


class RegexReward(_Reward):
    """1 when the completion matches ``pattern`` (anywhere, or the whole completion with ``full_match``)."""

    type: Literal["regex"]
    pattern: str = Field(..., min_length=1, max_length=MAX_PATTERN_LENGTH)
    full_match: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            import regex as re_mod  # the engine runs patterns with a timeout; the syntax is the same as re's
        except ImportError:  # pragma: no cover - regex ships with transformers
            import re as re_mod
        try:
            re_mod.compile(v)
        except re_mod.error as e:
            raise ValueError(f"not a valid regular expression ({e})") from None
        return v


class LengthReward(_Reward):
    """1 at exactly ``target`` words (or characters), falling linearly to 0 at zero or twice the target."""

    type: Literal["length"]
    target: int = Field(..., ge=1, le=10000, description="Target length (1 to 10000).")
    unit: Literal["words", "characters"] = "words"


class FormatReward(_Reward):
    """1 when the completion has a given shape: ``json`` (parses as JSON), ``number`` (one number),
    ``single_line`` (no line break), ``think`` (reasoning in <think>...</think>, then the answer)."""

    type: Literal["format"]
    format: Literal["json", "number", "single_line", "think"]


class NoRepetitionReward(_Reward):
    """A penalty (0 to -1 times the weight) for repeated n-grams of tokens (TRL's repetition penalty)."""

    type: Literal["no_repetition"]
    ngram_size: int = Field(3, ge=1, le=20)


RewardSpec = Annotated[Union[ExactMatchReward, RegexReward, LengthReward, FormatReward, NoRepetitionReward],
                       Field(discriminator="type")]
REWARD_MODELS: dict[str, type[_Reward]] = {
    "exact_match": ExactMatchReward, "regex": RegexReward, "length": LengthReward, "format": FormatReward,
    "no_repetition": NoRepetitionReward,
}
REWARD_TYPES = tuple(REWARD_MODELS)


MAX_REF_LENGTH = 1000  # a model or dataset reference (a path or an id)
MAX_MODULES = 64
MAX_PROBLEMS = 10  # a config error lists this many problems, then counts the rest


def _numeric(annotation: Any) -> bool:
    import typing

    args = typing.get_args(annotation) or (annotation,)
    return bool(set(args) & {int, float}) and bool not in args


class RunConfig(BaseModel):
    """Everything needed to reproduce a fine-tuning run."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    # What to train
    model_name: str = Field(EMBEDDED_MODEL, min_length=1, max_length=MAX_REF_LENGTH,
                            description="Base model: hub id, local folder, or the embedded default.")
    task: Task | None = Field(None, description="Dataset task; detected from the columns when left empty.")
    strategy: str = Field("sft", max_length=40, description="Training strategy (`python -m forge strategies` lists them).")
    provider: str = Field("auto", description="How weights are loaded: auto, huggingface, unsloth.")
    dataset: str = Field("sample:pirate_persona", min_length=1, max_length=MAX_REF_LENGTH,
                         description="Dataset file, hub dataset id, or sample:NAME.")
    columns: dict[str, str] = Field(default_factory=dict, description="Which of the dataset's columns holds each "
                                    "part of an example, e.g. {\"prompt\": \"question\", \"response\": \"answer\"} "
                                    "(roles: prompt, query, response, history, messages, system, tools, chosen, "
                                    "rejected, label, text; message tags: role_tag, content_tag, user_tag, "
                                    "assistant_tag, ...); empty: the column names tell.")
    template_values: dict[str, str] = Field(default_factory=dict, description="Values for {{name}} placeholders left in a dataset's rows, e.g. {\"name\": \"Pirate Bot\", \"author\": \"Ada\"}.")
    eval_split: float = Field(0.1, ge=0.0, le=0.5, description="Fraction of rows held out for evaluation (0 to 0.5).")
    max_samples: int | None = Field(None, ge=1, description="Use at most this many rows of the dataset.")
    run_name: str | None = Field(None, max_length=100, description="A name for the run (generated when empty).")

    # Length of training
    num_train_epochs: float = Field(1.0, gt=0, le=1000, description="Passes over the training rows.")
    max_steps: int | None = Field(None, ge=-1, le=10_000_000,
                                  description="Stop after this many optimizer steps (-1: use epochs).")

    # Optimisation
    learning_rate: float = Field(2e-4, gt=0, le=1.0, description="Peak learning rate.")
    per_device_train_batch_size: int | None = Field(None, ge=1, le=1024)
    gradient_accumulation_steps: int | None = Field(None, ge=1, le=1024)
    max_seq_length: int | None = Field(None, ge=16, le=131072, description="Longest tokenized example; longer ones are truncated.")
    warmup_ratio: float = Field(0.03, ge=0.0, le=1.0)
    lr_scheduler_type: Scheduler = "linear"
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    max_grad_norm: float = Field(1.0, ge=0.0)
    seed: int = Field(42, ge=0, le=2**32 - 1)
    packing: bool = False
    gradient_checkpointing: bool | None = None
    bf16: bool | None = None
    fp16: bool | None = None

    # Devices: several processes start under Accelerate's launcher (one per GPU)
    num_processes: int | None = Field(None, ge=1, le=1024, description="Training processes on this machine "
                                      "(default: one per visible GPU; 1 on a CPU).")
    distributed: Literal["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"] = Field(
        "ddp", description="How several processes share the work: ddp (a copy of the model per process), fsdp "
                           "(weights, gradients and optimizer sharded), deepspeed_zero2 or deepspeed_zero3 "
                           "(needs the deepspeed package).")

    # Logging, evaluation, checkpoints
    logging_steps: int = Field(1, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps (default: about 5 times per run).")
    save_steps: int | None = Field(None, ge=1, description="Checkpoint every N steps (default: about 4 times per run).")
    save_total_limit: int = Field(2, ge=1, le=100, description="Checkpoints kept on disk.")
    eval_samples: int = Field(16, ge=0, le=1000, description="Evaluation rows answered by the model for task metrics and before/after samples (0: none).")
    eval_max_new_tokens: int = Field(64, ge=1, le=4096, description="Longest generated answer when computing task metrics.")
    eval_generate_every: int | None = Field(None, ge=1, description="Also compute task metrics at every N-th evaluation during training (default: only at the end).")
    eval_max_rows: int | None = Field(None, ge=1, le=100_000, description="Most held-out rows the evaluation loss is computed on (default: 64 on a CPU, 256 on a GPU).")
    eval_budget: float = Field(0.2, ge=0.05, le=1.0, description="Largest share of a run's time evaluation may take: automatic evaluations are spaced out and answer scoring ends early to stay within it (1: no limit).")

    # LoRA
    lora_r: int = Field(16, ge=0, le=1024, description="LoRA rank; 0 means full fine-tuning.")
    lora_alpha: int = Field(32, ge=1, le=4096)
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = Field("all-linear", description="Modules LoRA adapts: a list of names or 'all-linear'.")

    # Alignment (dpo, orpo, kto, rlhf, grpo); None means the trainer's own default. Names follow TRL.
    beta: float | None = Field(None, ge=0.0, le=100.0, description="Strength of the pull towards the reference model "
                               "(DPO, KTO, RLHF, GRPO) or weight of the odds-ratio term (ORPO); 0 to 100.")
    loss_type: str | None = Field(None, description="Loss formulation (DPO: sigmoid, ipo, hinge, ...; KTO: kto, "
                                  "apo_zero_unpaired; GRPO: dapo, grpo, dr_grpo, ...).")
    max_prompt_length: int | None = Field(None, ge=8, le=131072, description="Longer prompts keep their last tokens "
                                          "(8 to 131072).")
    max_completion_length: int | None = Field(None, ge=1, le=32768, description="Longest answer: generated tokens in "
                                              "GRPO and RLHF, answer tokens in ORPO (1 to 32768).")
    num_generations: int | None = Field(None, ge=2, le=64, description="Answers sampled per prompt in GRPO and RLHF "
                                        "(2 to 64).")
    temperature: float = Field(1.0, gt=0.0, le=10.0, description="Sampling temperature of the generated answers "
                               "(GRPO, RLHF).")
    desirable_weight: float = Field(1.0, gt=0.0, le=100.0, description="KTO: weight of the good examples' loss.")
    undesirable_weight: float = Field(1.0, gt=0.0, le=100.0, description="KTO: weight of the bad examples' loss.")
    reward_funcs: list[RewardSpec] = Field(default_factory=list, max_length=10, description=(
        "GRPO rewards, each {type: exact_match|regex|length|format|no_repetition, weight, ...}; empty: exact_match."))
    reward_model: str | None = Field(None, description="RLHF: a saved reward model (its folder, or the id of the "
                                     "RLHF run that trained it) to reuse instead of training one.")
    reward_num_train_epochs: float = Field(1.0, gt=0, le=1000, description="RLHF stage 1: passes over the "
                                           "preference pairs when training the reward model.")
    reward_max_steps: int | None = Field(None, ge=-1, description="RLHF stage 1: stop the reward model after this "
                                         "many steps (-1 or empty: use reward_num_train_epochs).")
    reward_learning_rate: float | None = Field(None, gt=0, le=1.0, description="RLHF stage 1: learning rate of the "
                                               "reward model (empty: learning_rate).")

    # Quantization (bitsandbytes)
    use_4bit: bool = False
    use_8bit: bool = False
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    bnb_4bit_compute_dtype: Literal["float32", "float16", "bfloat16"] | None = None
    use_nested_quant: bool = False

    @field_validator("columns", mode="before")
    @classmethod
    def _columns(cls, v):
        from .data.columns import normalize

        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError("write it as a mapping of role to column name, e.g. {prompt: question, response: answer}")
        return normalize(v)

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
        if len(v) > MAX_MODULES or any(len(m) > 100 for m in v):
            raise ValueError(f"at most {MAX_MODULES} module names of up to 100 characters each ({len(v)} given); "
                             "'all-linear' adapts every linear layer")
        return v

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data):
        """``lora_r: true`` is a mistake, not 1: a number field takes numbers only."""
        if isinstance(data, dict):
            for name, value in data.items():
                f = cls.model_fields.get(name)
                if isinstance(value, bool) and f is not None and _numeric(f.annotation):
                    raise ValueError(f"{name}: {str(value).lower()} is not a number; write a number")
        return data

    @field_validator("max_steps")
    @classmethod
    def _some_steps(cls, v):
        if v == 0:
            raise ValueError("0 steps trains nothing; give a positive number, or -1 to train by epochs")
        return v

    @field_validator("strategy", "provider")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        from .providers import provider_names

        if v not in provider_names():
            raise ValueError(f"unknown provider '{v}' (one of: {', '.join(provider_names())})")
        return v

    @field_validator("loss_type", "reward_model")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return (v.strip() or None) if isinstance(v, str) else v

    @field_validator("reward_funcs", mode="before")
    @classmethod
    def _reward_items(cls, v):
        if isinstance(v, dict):
            v = [v]
        if isinstance(v, list):
            for i, item in enumerate(v):
                if isinstance(item, dict) and item.get("type") not in REWARD_TYPES:
                    raise ValueError(f"item {i}: type must be one of: {', '.join(REWARD_TYPES)} "
                                     f"(found {item.get('type')!r})")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        allowed = LOSS_TYPES.get(self.strategy)
        if self.loss_type is not None:
            if allowed is None:
                raise ValueError(f"loss_type: the {self.strategy} strategy has no loss_type setting (only "
                                 f"{', '.join(LOSS_TYPES)} have one); leave it empty")
            if self.loss_type not in allowed:
                raise ValueError(f"loss_type: '{self.loss_type}' is not a {self.strategy} loss (one of: {', '.join(allowed)})")
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

    def with_changes(self, **fields: Any) -> RunConfig:
        """A validated copy with ``fields`` changed, in which the user's own settings stay recorded
        as before (the changed fields do not count as set by the user)."""
        out = RunConfig(**{**self.model_dump(), **fields})
        object.__setattr__(out, "__pydantic_fields_set__", set(self.model_fields_set))
        return out


def describe_field(name: str, model: type[BaseModel] | None = None) -> str:
    """The allowed values of a field, in words, for error messages."""
    f = (model or RunConfig).model_fields.get(name)
    if f is None:
        return ""
    vals = _literals(f.annotation) if "Literal" in str(f.annotation) else []
    if vals:
        return "one of: " + ", ".join(map(str, vals))
    bounds = [f"{word} {getattr(m, attr)}" for m in f.metadata for attr, word in _BOUND_WORDS
              if getattr(m, attr, None) is not None]
    return ("allowed: " + " and ".join(bounds)) if bounds else ""


_BOUND_WORDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def _literals(t) -> list:
    """The values a ``Literal`` annotation allows, also inside ``Optional`` and other unions."""
    import typing

    out = []
    for a in typing.get_args(t):
        if typing.get_origin(a) is Literal:
            out += list(typing.get_args(a))
        elif a is not type(None):
            out += _literals(a) if typing.get_args(a) else []
    if typing.get_origin(t) is Literal:
        out += list(typing.get_args(t))
    return out


def _format_validation(err: ValidationError) -> str:
    lines = []
    errors = err.errors()
    for e in errors[:MAX_PROBLEMS]:
        loc = ".".join(str(x) for x in e["loc"]) or "config"
        if e["type"] == "extra_forbidden" and len(e["loc"]) == 1:
            import difflib

            close = difflib.get_close_matches(str(e["loc"][0]), RunConfig.model_fields, n=1)
            tip = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"{loc}: unknown setting{tip}")
            continue
        field = str(e["loc"][0]) if e["loc"] else ""
        allowed = describe_field(field)
        msg = e["msg"].removeprefix("Value error, ")
        if field == "reward_funcs" and len(e["loc"]) >= 2:
            # reward_funcs.<i>.<type>.<field> → reward_funcs[i] (type).field, with that field's range
            rest = [str(x) for x in e["loc"][1:]]
            kind = rest[1] if len(rest) > 1 and rest[1] in REWARD_MODELS else None
            sub = rest[2] if kind and len(rest) > 2 else None
            loc = f"reward_funcs[{rest[0]}]" + (f" ({kind})" if kind else "") + (f".{sub}" if sub else "")
            allowed = describe_field(sub, REWARD_MODELS[kind]) if sub else ""
            if e["type"] == "extra_forbidden":
                msg = f"unknown setting (a {kind} reward has: {', '.join(REWARD_MODELS[kind].model_fields)})"
        elif len(e["loc"]) > 1 and field in RunConfig.model_fields:
            # a list item or one branch of a union (target_modules.list[str].0): name the field and item
            index = next((x for x in e["loc"][1:] if isinstance(x, int)), None)
            loc = field + (f"[{index}]" if index is not None else "")
        elif not e["loc"] and ":" in msg and msg.split(":", 1)[0] in RunConfig.model_fields:
            loc, msg = msg.split(":", 1)[0], msg.split(":", 1)[1].strip()  # a cross-field check naming its field
        line = f"{loc}: {msg}" + (f" ({allowed})" if allowed and allowed not in msg else "")
        if line not in lines:
            lines.append(line)
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s)")
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
                          "Correct the named fields; `python -m forge config` prints every setting with its default.") from None


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
    return config.with_changes(**updates)
