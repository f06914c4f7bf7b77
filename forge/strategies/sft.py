"""Supervised fine-tuning with TRL's SFTTrainer: LoRA (``lora_r > 0``) or full (``lora_r: 0``)."""

from __future__ import annotations

from ..data import sft_dataset
from .base import Strategy, TrainContext, trainer_inputs, training_kwargs


class SFTStrategy(Strategy):
    name = "sft"
    label = "SFT (supervised fine-tuning; LoRA, or full with LoRA rank 0)"
    description = "Learns to produce the answers of your examples. Loss on the answer only."
    tasks = ("text-generation", "chat", "summarization", "extractive-qa")

    def sft_config(self, ctx: TrainContext, n_examples: int):
        from trl import SFTConfig

        c = ctx.config
        return SFTConfig(
            **training_kwargs(c, ctx.output_dir, n_examples=n_examples, has_eval=bool(ctx.eval_rows), hw=ctx.hardware),
            max_length=c.max_seq_length,
            packing=c.packing,
            completion_only_loss=True,
        )

    def build_trainer(self, ctx: TrainContext):
        from trl import SFTTrainer

        train = sft_dataset(ctx.train_rows, ctx.task)
        evals = sft_dataset(ctx.eval_rows, ctx.task) if ctx.eval_rows else None
        return SFTTrainer(**trainer_inputs(ctx, self.sft_config(ctx, len(train)), train, evals))
