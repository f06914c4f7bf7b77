"""Strategies: how a model is trained. Adding one is a new file plus one line in STRATEGIES."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Strategy, TrainContext, TrainingStrategy
from .qlora import QLoRAStrategy
from .sft import SFTStrategy

STRATEGIES: dict[str, type] = {
    "sft": SFTStrategy,
    "qlora": QLoRAStrategy,
}


def get_strategy(name: str) -> TrainingStrategy:
    if name not in STRATEGIES:
        raise ConfigError(f"strategy: unknown strategy '{name}' (one of: {', '.join(STRATEGIES)})")
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "Strategy", "TrainContext", "TrainingStrategy", "get_strategy"]
