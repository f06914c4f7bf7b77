"""DPO: TRL's DPOTrainer on preference pairs (prompt, chosen, rejected).

With LoRA the reference model is the base model with the adapter switched off: TRL does this
when no ``ref_model`` is given and the model is a PEFT model, so no second copy is loaded.
With full fine-tuning (``lora_r: 0``) TRL loads a frozen copy of the base as the reference.
"""

from __future__ import annotations

from ..data import preference_dataset
from .base import Strategy, TrainContext, given, train_eval_datasets, trainer_inputs, training_kwargs


class DPOStrategy(Strategy):
    name = "dpo"
    label = "DPO (direct preference optimisation)"
    description = ("Learns from pairs of a better and a worse answer: raises the better one's likelihood "
                   "relative to the base model. No reward model, no sampling.")
    tasks = ("preference",)
    metric_keys = ("rewards/accuracies", "rewards/margins", "rewards/chosen", "rewards/rejected")
    reference_model = True  # a frozen copy of the model when fully fine-tuning
    settings = ("beta", "loss_type", "max_prompt_length")

    def dpo_config(self, ctx: TrainContext, n_examples: int):
        from trl import DPOConfig

        c = ctx.config
        return DPOConfig(
            **training_kwargs(c, ctx.output_dir, n_examples=n_examples, has_eval=bool(ctx.eval_rows), hw=ctx.hardware),
            max_length=c.max_seq_length,
            **given(beta=c.beta, loss_type=[c.loss_type] if c.loss_type else None),
        )

    def build_trainer(self, ctx: TrainContext, ref_model=None):
        from trl import DPOTrainer

        train, evals = train_eval_datasets(ctx, preference_dataset)
        # ref_model None: the adapter-disabled base (LoRA) or a copy TRL loads (full)
        return DPOTrainer(**trainer_inputs(ctx, self.dpo_config(ctx, len(train)), train, evals, ref_model=ref_model))
