"""GRPO: TRL's GRPOTrainer on prompts, with verifiable rewards picked from a fixed menu.

For each prompt the model samples ``num_generations`` answers; each is scored by the rewards in
``reward_funcs`` (exact match against the row's ``answer``, a regular expression, a target length,
a format check, a repetition penalty), summed with their weights, and the policy moves towards
the answers that scored above their group's mean.
"""

from __future__ import annotations

import math

from ..config import ExactMatchReward, RunConfig
from ..data import prompt_dataset
from ..errors import ConfigError
from ..rewards import build_rewards, needs_answers
from .base import Strategy, TrainContext, given, train_eval_datasets, trainer_inputs, training_kwargs


def generation_settings(ctx: TrainContext) -> dict:
    """Settings shared by TRL's online trainers (GRPO, RLOO): samples per prompt, answer length,
    and batch sizes that hold whole groups of samples."""
    c, cpu = ctx.config, ctx.hardware.device == "cpu"
    g = c.num_generations or (4 if cpu else 8)
    bs = c.per_device_train_batch_size or 1
    per_step = bs * (c.gradient_accumulation_steps or 1)
    return dict(
        num_generations=g,
        max_completion_length=c.max_completion_length or (64 if cpu else 256),
        temperature=c.temperature,
        # one generation round must hold whole groups of ``g`` answers (TRL's rule)
        generation_batch_size=per_step * g // math.gcd(per_step, g),
        per_device_eval_batch_size=g * max(1, bs // g),
        include_num_input_tokens_seen="no",  # the online trainers count prompt and answer tokens themselves
    )


class GRPOStrategy(Strategy):
    name = "grpo"
    label = "GRPO (online RL with verifiable rewards)"
    description = ("Samples several answers per prompt and reinforces those that score best on rewards you "
                   "pick: exact match with a reference answer, a pattern, a length, a format.")
    tasks = ("prompt",)
    metric_keys = ("reward", "reward_std", "completions/mean_length")
    settings = ("reward_funcs", "num_generations", "max_completion_length", "temperature", "beta", "loss_type",
                "max_prompt_length")

    def prepare_config(self, config: RunConfig) -> RunConfig:
        if config.reward_funcs:
            return config
        return config.with_changes(reward_funcs=[ExactMatchReward(type="exact_match")])

    def build_trainer(self, ctx: TrainContext):
        from trl import GRPOConfig, GRPOTrainer

        c = ctx.config
        if needs_answers(c) and not any(r.get("answer") not in (None, "") for r in ctx.train_rows):
            raise ConfigError("reward_funcs: exact_match compares answers with the dataset's 'answer' column, and "
                              "this dataset has none.", "Add an answer column, or pick other rewards (regex, length, "
                              "format).")
        funcs, weights = build_rewards(c.reward_funcs)
        ctx.log("Rewards: " + ", ".join(f"{f.__name__} × {w:g}" for f, w in zip(funcs, weights)))
        train, evals = train_eval_datasets(ctx, lambda rows: prompt_dataset(rows, ctx.task))
        gen = generation_settings(ctx)
        kw = training_kwargs(c, ctx.output_dir, n_examples=len(train) * gen["num_generations"],  # answers, not prompts
                             has_eval=evals is not None, hw=ctx.hardware)
        kw.update(gen)
        args = GRPOConfig(**kw, reward_weights=weights, **given(beta=c.beta, loss_type=c.loss_type))
        return GRPOTrainer(**trainer_inputs(ctx, args, train, evals, reward_funcs=funcs))
