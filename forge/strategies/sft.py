"""Supervised fine-tuning with TRL's SFTTrainer: LoRA (``lora_r > 0``) or full (``lora_r: 0``)."""

from __future__ import annotations

from ..data import sft_dataset
from .base import Strategy, TrainContext, trainer_inputs, training_kwargs


class SFTStrategy(Strategy):
    name = "sft"
    label = "SFT (supervised fine-tuning; LoRA, or full with LoRA rank 0)"
    description = "Learns to produce the answers of your examples. Loss on the answer only."
    tasks = ("text-generation", "chat", "summarization", "extractive-qa", "text")

    def sft_config(self, ctx: TrainContext, n_examples: int):
        from trl import SFTConfig

        c = ctx.config
        return SFTConfig(
            **training_kwargs(c, ctx.output_dir, n_examples=n_examples, has_eval=bool(ctx.eval_rows), hw=ctx.hardware),
            max_length=c.max_seq_length,
            # plain text (continued pre-training): short rows packed into max_seq_length blocks, loss
            # on every token; otherwise the loss on the answers only
            packing=c.packing or ctx.task == "text",
            completion_only_loss=ctx.task != "text",
            **({"dataset_text_field": "text"} if ctx.task == "text" else {}),
        )

    def build_trainer(self, ctx: TrainContext):
        from trl import SFTTrainer

        from ..data import place_tools

        template = getattr(ctx.tokenizer, "chat_template", None)
        train_rows, note = place_tools(ctx.train_rows, template, ctx.config.model_name)
        eval_rows, _ = place_tools(ctx.eval_rows, template, ctx.config.model_name)
        if note:
            ctx.log(note)
        train = sft_dataset(train_rows, ctx.task)
        evals = sft_dataset(eval_rows, ctx.task) if eval_rows else None
        return SFTTrainer(**trainer_inputs(ctx, self.sft_config(ctx, len(train)), train, evals))
