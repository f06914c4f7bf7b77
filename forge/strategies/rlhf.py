"""RLHF in one run: a reward model learned from preference pairs, then online RL against it.

Stage 1 (phase ``reward``): TRL's RewardTrainer trains a sequence-classification copy of the
base model (one output, a LoRA adapter with a trainable score head) to score the chosen answer
above the rejected one; its pairwise accuracy on the held-out pairs is reported, and it is saved
in the run folder (``reward_model/``). Stage 2 (phase ``policy``): TRL's RLOOTrainer samples
``num_generations`` answers per prompt, scores them with that reward model and reinforces the
answers that beat the others in their group (REINFORCE leave-one-out, with a KL pull ``beta``
towards the base model).

Stage 1 is a :class:`~forge.strategies.base.Stage`, so the Job runs it under its stop, error and
event handling like any training; ``build_trainer`` then returns the stage-2 trainer. With
``reward_model`` set, stage 1 is skipped and that saved reward model is used; a resumed run reuses
the reward model its first attempt saved.
"""

from __future__ import annotations

import gc
from pathlib import Path

from ..config import RunConfig
from ..data import preference_dataset, prompt_dataset
from ..errors import ConfigError
from .base import (
    Stage,
    Strategy,
    TrainContext,
    given,
    lora_config,
    train_eval_datasets,
    trainer_inputs,
    training_kwargs,
)
from .grpo import generation_settings

REWARD_DIR = "reward_model"


def resolve_reward_model(ref: str, *, sandbox: bool = False) -> Path:
    """A saved reward model: the id of the RLHF run that trained it, or its folder."""
    from ..settings import get_settings

    ref = ref.strip()
    by_run = get_settings().runs_dir / ref / REWARD_DIR
    if "/" not in ref and "\\" not in ref and by_run.is_dir():
        return by_run
    p = Path(ref).expanduser()
    if sandbox:
        from ..sandbox import check_path

        p = check_path(ref, "reward model")
    if not ((p / "config.json").is_file() or (p / "adapter_config.json").is_file()):
        raise ConfigError(f"reward_model: '{ref}' is neither an RLHF run with a saved reward model nor a model folder.",
                          "Give the id of a finished RLHF run, or the folder of a reward model "
                          "(a sequence-classification model with one output).")
    return p


def load_reward_model(path: Path, config: RunConfig):
    """A saved reward model ready to score (an adapter is merged into its base)."""
    from transformers import AutoModelForSequenceClassification

    from ..providers.huggingface import torch_dtype

    if (path / "adapter_config.json").is_file():
        from peft import AutoPeftModelForSequenceClassification

        model = AutoPeftModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch_dtype(config))
        model = model.merge_and_unload()
    else:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch_dtype(config))
    return _frozen(model)


def _frozen(model):
    model.config._name_or_path = REWARD_DIR  # TRL logs its scores as rewards/reward_model/mean
    model.eval()
    model.requires_grad_(False)
    return model


class RLHFStrategy(Strategy):
    name = "rlhf"
    label = "RLHF (reward model + online RL)"
    description = ("Two stages in one run: learns a reward model from your preference pairs, then improves the "
                   "model by sampling answers and reinforcing those the reward model scores best (RLOO).")
    tasks = ("preference", "prompt")
    metric_keys = ("eval_accuracy", "accuracy", "reward", "reward_std", "kl")
    reference_model = True  # a frozen copy of the model when fully fine-tuning
    # the phases of a run (the reward phase is skipped when ``reward_model`` reuses one) and the
    # metrics each one logs, so a page can draw every series from the start
    phase_metric_keys = {"reward": ("accuracy", "eval_accuracy"), "policy": ("reward", "reward_std", "kl")}
    settings = ("reward_model", "reward_num_train_epochs", "reward_max_steps", "reward_learning_rate",
                "num_generations", "max_completion_length", "temperature", "beta", "max_prompt_length")

    def plotted_phases(self, config: dict) -> dict[str, tuple[str, ...]]:
        phases = dict(self.phase_metric_keys)
        if config.get("reward_model"):
            phases.pop("reward")  # a saved reward model is reused: no reward phase
        return phases

    def prepare_config(self, config: RunConfig) -> RunConfig:
        if config.reward_model:
            resolve_reward_model(config.reward_model)  # a wrong reference fails before any model loads
        elif config.task == "prompt":
            raise ConfigError("reward_model: RLHF on prompts alone needs a saved reward model.",
                              "Set reward_model to a finished RLHF run, or train on preference pairs.")
        return config

    # ---- stage 1 -------------------------------------------------------------------------------
    def train_reward_model(self, ctx: TrainContext, callbacks: list):
        """Train, evaluate and save the reward model; returns it merged and frozen, and its folder."""
        from transformers import AutoModelForSequenceClassification
        from transformers.trainer_callback import PrinterCallback
        from trl import RewardConfig, RewardTrainer

        from ..providers.huggingface import quantization_config, torch_dtype

        c = ctx.config
        rc = RunConfig(**{**c.model_dump(), "num_train_epochs": c.reward_num_train_epochs,
                          "max_steps": c.reward_max_steps if c.reward_max_steps is not None else -1,
                          "learning_rate": c.reward_learning_rate or c.learning_rate})
        train, evals = train_eval_datasets(ctx, preference_dataset)
        model = AutoModelForSequenceClassification.from_pretrained(
            ctx.model_path, num_labels=1, dtype=torch_dtype(c), quantization_config=quantization_config(c))
        model.config.pad_token_id = ctx.tokenizer.pad_token_id
        if c.use_4bit or c.use_8bit:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=bool(c.gradient_checkpointing))
        kw = training_kwargs(rc, ctx.output_dir / "reward", n_examples=len(train), has_eval=evals is not None,
                             hw=ctx.hardware)
        kw["include_num_input_tokens_seen"] = "no"  # pairs of chosen/rejected ids, no plain input_ids to count
        args = RewardConfig(**kw, max_length=c.max_seq_length)
        trainer = RewardTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals,
                                processing_class=ctx.tokenizer, peft_config=lora_config(c, task_type="SEQ_CLS"),
                                callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        metrics = {}
        train_acc = [h["accuracy"] for h in trainer.state.log_history if "accuracy" in h]
        if train_acc:
            metrics["reward_model/accuracy"] = train_acc[-1]
        if evals is not None:
            ev = trainer.evaluate()
            metrics.update({f"reward_model/{k}": v for k, v in ev.items() if k in ("eval_accuracy", "eval_margin",
                                                                                  "eval_loss")})
            ctx.log(f"Reward model: pairwise accuracy on {len(evals)} held-out pairs "
                    f"{ev.get('eval_accuracy', float('nan')):.2f}.")
        out = (ctx.run_dir or ctx.output_dir.parent) / REWARD_DIR
        trainer.save_model(str(out))
        ctx.tokenizer.save_pretrained(str(out))
        ctx.extras.setdefault("metrics", {}).update(metrics)
        reward = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
        del trainer
        gc.collect()
        return _frozen(reward), out

    def _saved_reward(self, ctx: TrainContext) -> Path | None:
        """The reward model to reuse: the one set in the config, or the one a resumed run saved."""
        if ctx.config.reward_model:
            return resolve_reward_model(ctx.config.reward_model, sandbox=ctx.sandbox)
        own = (ctx.run_dir or ctx.output_dir.parent) / REWARD_DIR
        return own if ctx.resuming and (own / "adapter_config.json").is_file() else None

    def stages(self, ctx: TrainContext) -> list[Stage]:
        if ctx.task == "prompt" and not ctx.config.reward_model:
            raise ConfigError("reward_model: RLHF on prompts alone needs a saved reward model.",
                              "Set reward_model to a finished RLHF run, or train on preference pairs.")
        if self._saved_reward(ctx) is not None:
            return []
        return [Stage("reward", self._reward_stage, f"Stage 1 of 2: training the reward model on "
                                                   f"{len(ctx.train_rows)} preference pairs.")]

    def _reward_stage(self, ctx: TrainContext, callbacks: list) -> None:
        ctx.extras["reward"] = self.train_reward_model(ctx, callbacks)

    # ---- stage 2 -------------------------------------------------------------------------------
    def build_trainer(self, ctx: TrainContext):
        from trl import RLOOConfig, RLOOTrainer

        c = ctx.config
        if "reward" in ctx.extras:  # trained by this run's first stage
            reward, path = ctx.extras.pop("reward")
            reward_tokenizer, total = ctx.tokenizer, 2
        else:
            path = self._saved_reward(ctx)
            if path is None:  # build_trainer called without its stage: train the reward model first
                for stage in self.stages(ctx):
                    stage.run(ctx, ctx.start_phase(stage.name, 0, 2, stage.message))
                return self.build_trainer(ctx)
            ctx.log(f"Reusing the reward model in {path}.")
            reward, total = load_reward_model(path, c), 1
            from transformers import AutoTokenizer

            reward_tokenizer = AutoTokenizer.from_pretrained(path)
        ctx.extras.setdefault("artifacts", {})["reward_model"] = str(path)

        train, evals = train_eval_datasets(ctx, lambda rows: prompt_dataset(rows, ctx.task))
        callbacks = ctx.start_phase("policy", total - 1, total, f"{'Stage 2 of 2: ' if total == 2 else ''}"
                                    f"optimising the policy with RLOO on {len(train)} prompts.")
        gen = generation_settings(ctx)
        kw = training_kwargs(c, ctx.output_dir, n_examples=len(train) * gen["num_generations"],
                             has_eval=evals is not None, hw=ctx.hardware)
        kw.update(gen)
        args = RLOOConfig(**kw, **given(beta=c.beta))
        return RLOOTrainer(**trainer_inputs(ctx, args, train, evals, reward_funcs=reward,
                                            reward_processing_classes=reward_tokenizer, callbacks=callbacks))
