"""The ModelProvider protocol: how a model's weights are loaded for training or inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the config imports the providers (to check `provider`), not the reverse
    from ..catalog import ResolvedModel
    from ..config import RunConfig


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    provider: str
    peft_applied: bool = False  # True when the provider already wrapped the model with LoRA
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class ModelProvider(Protocol):
    name: str
    description: str

    def available(self) -> tuple[bool, str]:
        """Whether this machine can use the provider, and why not."""

    def trains(self, strategy: str) -> tuple[bool, str]:
        """Whether the provider can train this strategy on this machine, and why not."""

    def supports(self, resolved: ResolvedModel, config: RunConfig) -> tuple[bool, str]:
        """Whether the provider can load this model for this run, and why not."""

    def load(self, resolved: ResolvedModel, config: RunConfig) -> LoadedModel:
        """Load model and tokenizer for training with ``config``."""


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give the tokenizer a pad token (the end-of-sequence one) when it has none."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
