"""Providers: how weights are loaded. Adding one is a new file plus one line in PROVIDERS."""

from __future__ import annotations

from ..catalog import ResolvedModel
from ..config import RunConfig
from ..errors import ConfigError, UnavailableError
from .base import LoadedModel, ModelProvider
from .huggingface import HuggingFaceProvider
from .unsloth import UnslothProvider

PROVIDERS: dict[str, type] = {
    "unsloth": UnslothProvider,
    "huggingface": HuggingFaceProvider,
}


def provider_names() -> list[str]:
    return ["auto", *PROVIDERS]


def get_provider(name: str) -> ModelProvider:
    if name not in PROVIDERS:
        raise ConfigError(f"provider: unknown provider '{name}' (one of: {', '.join(provider_names())})")
    return PROVIDERS[name]()


def choose_provider(config: RunConfig, resolved: ResolvedModel | None = None) -> tuple[ModelProvider, str]:
    """The provider a run uses, and why. ``auto`` takes the first available provider that
    supports the model (the fast ones are listed before huggingface), else huggingface."""
    if config.provider != "auto":
        p = get_provider(config.provider)
        ok, why = p.available()
        if not ok:
            raise UnavailableError(f"The {p.name} provider cannot run here: {why}")
        return p, f"{p.name} (chosen in the config)"
    reasons = []
    for name in PROVIDERS:
        if name == "huggingface":
            continue
        p = get_provider(name)
        ok, why = p.available()
        if ok and resolved is not None:
            ok, why = p.supports(resolved, config)
        if ok:
            return p, f"{name} (auto: available and supports this model)"
        reasons.append(f"{name}: {why}")
    return get_provider("huggingface"), "huggingface (auto" + (f"; {'; '.join(reasons)}" if reasons else "") + ")"


__all__ = ["PROVIDERS", "LoadedModel", "ModelProvider", "choose_provider", "get_provider", "provider_names"]
