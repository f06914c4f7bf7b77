"""The TrainingStrategy protocol, and the mapping of RunConfig onto the trainers' arguments
that every strategy shares."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..config import RunConfig
from ..hardware import Hardware


@dataclass
class TrainContext:
    """Everything a strategy needs, passed in (strategies hold no state of their own)."""

    model: Any
    tokenizer: Any
    train_rows: list[dict]
    eval_rows: list[dict]
    task: str
    config: RunConfig
    output_dir: Path
    callbacks: list[Any]
    hardware: Hardware
    peft_applied: bool = False
    log: Callable[[str], None] = print
    emit: Callable[..., None] = lambda kind, **data: None  # write an event to the run's log
    extras: dict[str, Any] = field(default_factory=dict)  # artefacts a strategy leaves for the Job
    model_path: str = ""  # the base model's local folder (for strategies that load a second model from it)
    # Callbacks for one stage of a multi-stage run: metrics and progress tagged with ``phase``,
    # stop requests honoured. ``callbacks`` is the same for the phase "train".
    callbacks_for: Callable[[str], list[Any]] = lambda phase: []
    run_dir: Path | None = None  # the run's folder, where a strategy saves extra artefacts
    sandbox: bool = False  # paths in the config come from the page or the API: check them
    resuming: bool = False  # the run continues from a checkpoint of its last stage

    def start_phase(self, name: str, index: int, total: int, message: str = "") -> list[Any]:
        """Announce stage ``index`` (0-based) of ``total`` and return the callbacks that tag its metrics."""
        self.emit("phase", name=name, index=index, total=total)
        if message:
            self.log(message)
        return self.callbacks_for(name)


@dataclass
class Stage:
    """A training stage that runs before the strategy's main trainer (e.g. RLHF's reward model).
    The Job runs each under its own stop, error and event handling: ``run(ctx, callbacks)`` trains
    with the phase-tagged ``callbacks`` (which honour Stop) and leaves what later stages need in
    ``ctx.extras``. The main trainer is the last phase."""

    name: str  # the phase its metrics are tagged with
    run: Callable[[TrainContext, list[Any]], None]
    message: str = ""  # what the run's log says as it starts


@runtime_checkable
class TrainingStrategy(Protocol):
    name: str
    label: str
    description: str
    tasks: tuple[str, ...]  # dataset tasks it trains on

    def available(self, hw: Hardware) -> tuple[bool, str]:
        """Whether this machine can run the strategy, and why not."""

    def prepare_config(self, config: RunConfig) -> RunConfig:
        """Settings the strategy implies (e.g. qlora → 4-bit), applied before the model loads."""

    def build_trainer(self, ctx: TrainContext) -> Any:
        """A ready transformers/TRL trainer; the Job calls ``train()`` on it."""


class Strategy:
    """Defaults for the protocol's optional parts."""

    name = ""
    label = ""
    description = ""
    tasks: tuple[str, ...] = ()
    metric_keys: tuple[str, ...] = ()  # extra metrics worth plotting (beyond loss and learning rate)
    settings: tuple[str, ...] = ()  # RunConfig fields specific to this strategy (the form shows only these)
    reference_model = False  # keeps a frozen copy of the model to compare against (counted in the memory estimate)

    def available(self, hw: Hardware) -> tuple[bool, str]:
        return True, ""

    def prepare_config(self, config: RunConfig) -> RunConfig:
        return config

    def stages(self, ctx: TrainContext) -> list[Stage]:
        """Stages to run before ``build_trainer`` (none for a one-stage strategy)."""
        return []

    def plotted_phases(self, config: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        """The phases a run with ``config`` goes through and the metrics each one plots, so a page can
        draw every series from the start ("" names the only phase of a one-stage strategy)."""
        return {"": tuple(self.metric_keys)}


def estimated_steps(config: RunConfig, n_examples: int) -> int:
    if config.max_steps and config.max_steps > 0:
        return config.max_steps
    per_step = (config.per_device_train_batch_size or 1) * (config.gradient_accumulation_steps or 1)
    return max(1, math.ceil(n_examples / per_step) * math.ceil(config.num_train_epochs))


def training_kwargs(config: RunConfig, output_dir: Path, *, n_examples: int, has_eval: bool,
                    hw: Hardware) -> dict[str, Any]:
    """RunConfig → keyword arguments common to TrainingArguments and TRL's configs."""
    steps = estimated_steps(config, n_examples)
    eval_steps = config.eval_steps or max(1, steps // 5)
    save_steps = config.save_steps or max(1, steps // 4)
    report = [] if os.environ.get("MODELFORGE_DISABLE_TENSORBOARD") else ["tensorboard"]
    kw: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size or 1,
        per_device_eval_batch_size=config.per_device_train_batch_size or 1,
        gradient_accumulation_steps=config.gradient_accumulation_steps or 1,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        lr_scheduler_type=config.lr_scheduler_type,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps if has_eval else None,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=config.save_total_limit,
        bf16=bool(config.bf16),
        fp16=bool(config.fp16),
        use_cpu=hw.device == "cpu",
        gradient_checkpointing=bool(config.gradient_checkpointing),
        report_to=report,
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
    )
    if config.gradient_checkpointing:
        kw["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    return kw


def lora_config(config: RunConfig, task_type: str = "CAUSAL_LM"):
    """PEFT LoraConfig from the RunConfig (None for full fine-tuning, ``lora_r: 0``)."""
    if config.lora_r == 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.target_modules, task_type=task_type, bias="none")


def given(**values: Any) -> dict[str, Any]:
    """The settings the user gave (not None): the rest keep the trainer's own defaults."""
    return {k: v for k, v in values.items() if v is not None}


def fit_prompts(ctx: TrainContext, rows: list[dict], what: str = "training") -> list[dict]:
    """Rows whose prompt fits ``max_prompt_length`` (longer prompts keep their end), with a note in the log.

    TRL's trainers no longer cut prompts on their own (they truncate prompt + answer to ``max_length``
    from the end, which can leave no answer), so the cut happens here, on the chat messages.
    """
    from ..data import clip_prompts
    from ..errors import DataError

    limit = ctx.config.max_prompt_length
    out, clipped, dropped = clip_prompts(rows, ctx.task, ctx.tokenizer, limit)
    if clipped or dropped:
        ctx.log(f"max_prompt_length {limit}: {clipped} {what} prompt(s) shortened (their end kept)"
                + (f", {dropped} dropped (the chat template alone is longer)" if dropped else "") + ".")
    if rows and not out:
        raise DataError(f"Every {what} prompt is longer than max_prompt_length ({limit} tokens).",
                        "Raise max_prompt_length, or leave it empty.")
    return out


def train_eval_datasets(ctx: TrainContext, make: Callable[[list[dict]], Any]) -> tuple[Any, Any]:
    """The training and evaluation datasets (evaluation None without evaluation rows): ``make`` turns
    the rows whose prompt fits ``max_prompt_length`` into the trainer's dataset."""
    train = make(fit_prompts(ctx, ctx.train_rows))
    evals = make(fit_prompts(ctx, ctx.eval_rows, "evaluation")) if ctx.eval_rows else None
    return train, evals


def trainer_inputs(ctx: TrainContext, args: Any, train: Any, evals: Any, **extra: Any) -> dict[str, Any]:
    """The keyword arguments every TRL trainer takes from a run: the model, its tokenizer, the
    datasets, LoRA (unless the provider already applied it) and the Job's callbacks."""
    kw = dict(model=ctx.model, args=args, train_dataset=train, eval_dataset=evals, processing_class=ctx.tokenizer,
              peft_config=None if ctx.peft_applied else lora_config(ctx.config), callbacks=ctx.callbacks)
    kw.update(extra)
    return kw
