"""ORPO: TRL's ORPOTrainer (``trl.experimental.orpo``) on preference pairs.

Reference-free: one model, a supervised loss on the chosen answer plus an odds-ratio term
(weight ``beta``) that pushes the rejected answer down. No SFT stage needed first.
"""

from __future__ import annotations

from ..data import preference_dataset
from .base import Strategy, TrainContext, given, train_eval_datasets, trainer_inputs, training_kwargs


class ORPOStrategy(Strategy):
    name = "orpo"
    label = "ORPO (odds-ratio preference optimisation, no reference model)"
    description = ("Supervised learning of the better answer and a penalty on the worse one in a single "
                   "stage, without a reference model.")
    tasks = ("preference",)
    metric_keys = ("rewards/accuracies", "rewards/margins", "log_odds_ratio", "nll_loss")
    settings = ("beta", "max_prompt_length", "max_completion_length")

    def build_trainer(self, ctx: TrainContext):
        import warnings

        with warnings.catch_warnings():  # "experimental" notice on import
            warnings.simplefilter("ignore")
            from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        c = ctx.config
        train, evals = train_eval_datasets(ctx, preference_dataset)
        kw = training_kwargs(c, ctx.output_dir, n_examples=len(train), has_eval=evals is not None, hw=ctx.hardware)
        kw["include_num_input_tokens_seen"] = "no"  # ORPO's batches have no plain input_ids to count
        args = ORPOConfig(
            **kw,
            max_length=c.max_seq_length,
            **given(beta=c.beta, max_completion_length=c.max_completion_length),
        )
        return ORPOTrainer(**trainer_inputs(ctx, args, train, evals))
