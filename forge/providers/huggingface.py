"""The huggingface provider: transformers, with bitsandbytes 4-bit/8-bit quantization."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from .base import LoadedModel, prepare_tokenizer

if TYPE_CHECKING:  # annotations only: the config imports the providers (to check `provider`), not the reverse
    from ..catalog import ResolvedModel
    from ..config import RunConfig


def torch_dtype(config: RunConfig):
    import torch

    if config.bf16:
        return torch.bfloat16
    if config.fp16:
        return torch.float16
    return torch.float32


def quantization_config(config: RunConfig):
    if not (config.use_4bit or config.use_8bit):
        return None
    from transformers import BitsAndBytesConfig

    if config.use_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    import torch

    compute = getattr(torch, config.bnb_4bit_compute_dtype) if config.bnb_4bit_compute_dtype else torch_dtype(config)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=config.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=compute,
        bnb_4bit_use_double_quant=config.use_nested_quant,
        bnb_4bit_quant_storage=compute,
    )


class HuggingFaceProvider:
    name = "huggingface"
    description = "transformers + PEFT, with bitsandbytes 4-bit/8-bit quantization; runs everywhere"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def trains(self, strategy: str) -> tuple[bool, str]:
        return True, ""  # every strategy is written against plain transformers + PEFT

    def supports(self, resolved: ResolvedModel, config: RunConfig) -> tuple[bool, str]:
        if (config.use_4bit or config.use_8bit) and importlib.util.find_spec("bitsandbytes") is None:
            return False, "4-bit and 8-bit loading need bitsandbytes: pip install bitsandbytes"
        return True, ""

    def load(self, resolved: ResolvedModel, config: RunConfig) -> LoadedModel:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        ok, why = self.supports(resolved, config)
        if not ok:
            from ..errors import UnavailableError

            raise UnavailableError(why)
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(resolved.path))
        model = AutoModelForCausalLM.from_pretrained(
            resolved.path, dtype=torch_dtype(config), quantization_config=quantization_config(config)
        )
        notes = []
        if config.use_4bit or config.use_8bit:
            notes.append(f"loaded in {'4' if config.use_4bit else '8'}-bit with bitsandbytes")
        return LoadedModel(model, tokenizer, self.name, notes=notes)
