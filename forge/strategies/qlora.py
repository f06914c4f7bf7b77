"""QLoRA: a 4-bit (bitsandbytes NF4) base model with a LoRA adapter, trained with SFTTrainer."""

from __future__ import annotations

import importlib.util

from ..config import RunConfig
from ..hardware import Hardware
from .base import TrainContext
from .sft import SFTStrategy


class QLoRAStrategy(SFTStrategy):
    name = "qlora"
    label = "QLoRA (4-bit base + LoRA)"
    description = "SFT with the base model quantized to 4 bits: about a quarter of the memory."

    def available(self, hw: Hardware) -> tuple[bool, str]:
        if importlib.util.find_spec("bitsandbytes") is None:
            return False, "needs bitsandbytes (pip install bitsandbytes)"
        return True, ""

    def prepare_config(self, config: RunConfig) -> RunConfig:
        return config.with_changes(use_4bit=True, use_8bit=False, lora_r=config.lora_r or 16)

    def build_trainer(self, ctx: TrainContext):
        if not ctx.peft_applied:
            from peft import prepare_model_for_kbit_training

            ctx.model = prepare_model_for_kbit_training(
                ctx.model, use_gradient_checkpointing=bool(ctx.config.gradient_checkpointing))
        return super().build_trainer(ctx)
