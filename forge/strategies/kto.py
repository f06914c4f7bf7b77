"""KTO: TRL's KTOTrainer on unpaired feedback (prompt, completion, label true/false), or on
preference pairs split into one good and one bad example each.

Like DPO, the reference is the base with the LoRA adapter switched off. KTO estimates a KL term
from mismatched pairs inside each batch, so the batch size must be at least 2.
"""

from __future__ import annotations

from ..config import RunConfig
from ..data import unpaired_dataset
from ..errors import ConfigError
from .base import Strategy, TrainContext, given, train_eval_datasets, trainer_inputs, training_kwargs


class KTOStrategy(Strategy):
    name = "kto"
    label = "KTO (learning from thumbs up / thumbs down)"
    description = ("Learns from answers marked good or bad, one at a time: no pairs needed. Preference "
                   "pairs are split into a good and a bad example.")
    tasks = ("feedback", "preference")
    metric_keys = ("rewards/margins", "rewards/chosen", "rewards/rejected", "kl")
    reference_model = True  # a frozen copy of the model when fully fine-tuning
    settings = ("beta", "loss_type", "desirable_weight", "undesirable_weight", "max_prompt_length")

    def prepare_config(self, config: RunConfig) -> RunConfig:
        bs = config.per_device_train_batch_size
        if bs is None or bs >= 2:
            return config
        if "per_device_train_batch_size" in config.model_fields_set:
            raise ConfigError("per_device_train_batch_size: KTO needs at least 2 examples per batch (allowed: >= 2).",
                              "Set per_device_train_batch_size to 2 or more; lower max_seq_length to save memory.")
        return config.with_changes(per_device_train_batch_size=2)

    def build_trainer(self, ctx: TrainContext):
        from trl import KTOConfig, KTOTrainer

        c = ctx.config
        train, evals = train_eval_datasets(ctx, lambda rows: unpaired_dataset(rows, ctx.task, seed=c.seed))
        labels = train["label"]
        if all(labels) or not any(labels):
            ctx.log("Every training example carries the same label: KTO learns best from both good and bad ones.")
        args = KTOConfig(
            **training_kwargs(c, ctx.output_dir, n_examples=len(train), has_eval=evals is not None, hw=ctx.hardware),
            max_length=c.max_seq_length,
            desirable_weight=c.desirable_weight,
            undesirable_weight=c.undesirable_weight,
            **given(beta=c.beta, loss_type=c.loss_type),
        )
        return KTOTrainer(**trainer_inputs(ctx, args, train, evals))

