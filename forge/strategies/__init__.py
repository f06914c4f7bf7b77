"""Strategies: how a model is trained. Adding one is a new file plus one line in STRATEGIES."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Strategy, TrainContext, TrainingStrategy
from .dpo import DPOStrategy
from .grpo import GRPOStrategy
from .kto import KTOStrategy
from .orpo import ORPOStrategy
from .qlora import QLoRAStrategy
from .rlhf import RLHFStrategy
from .sft import SFTStrategy

STRATEGIES: dict[str, type] = {
    "sft": SFTStrategy,
    "qlora": QLoRAStrategy,
    "dpo": DPOStrategy,
    "orpo": ORPOStrategy,
    "kto": KTOStrategy,
    "rlhf": RLHFStrategy,
    "grpo": GRPOStrategy,
}


def get_strategy(name: str) -> TrainingStrategy:
    if name not in STRATEGIES:
        raise ConfigError(f"strategy: unknown strategy '{name}' (one of: {', '.join(STRATEGIES)})")
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "Strategy", "TrainContext", "TrainingStrategy", "get_strategy"]
