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


def provider_plan(provider: str, strategy: str) -> tuple[bool, str]:
    """What the form says before a run: whether ``provider`` can train ``strategy`` here, and
    which provider ``auto`` will take (the model's architecture is checked when the run starts)."""
    if provider != "auto":
        p = get_provider(provider)
        ok, why = p.available()
        if ok:
            ok, why = p.trains(strategy)
        return ok, (f"{p.name}: {p.description}" if ok else f"The {p.name} provider cannot run this here: {why}. "
                    "Choose auto (or huggingface), which runs everywhere.")
    reasons = []
    for name in PROVIDERS:
        if name == "huggingface":
            continue
        p = get_provider(name)
        ok, why = p.available()
        if ok:
            ok, why = p.trains(strategy)
        if ok:
            return True, (f"auto will use {name} when it supports the model's architecture, "
                          "huggingface otherwise; the run's log says which ran and why.")
        reasons.append(f"{name}: {why}")
    return True, "auto will use huggingface (" + "; ".join(reasons) + ")." if reasons else "auto will use huggingface."


def choose_provider(config: RunConfig, resolved: ResolvedModel | None = None) -> tuple[ModelProvider, str]:
    """The provider a run uses, and why. ``auto`` takes the first available provider that
    supports the model (the fast ones are listed before huggingface), else huggingface."""
    if config.provider != "auto":
        p = get_provider(config.provider)
        ok, why = p.available()
        if ok:
            ok, why = p.trains(config.strategy)
        if ok and resolved is not None:
            ok, why = p.supports(resolved, config)
        if not ok:
            raise UnavailableError(f"provider: the {p.name} provider cannot run this here: {why}",
                                   "Choose provider auto (or huggingface), which runs everywhere.")
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


__all__ = ["PROVIDERS", "LoadedModel", "ModelProvider", "choose_provider", "get_provider", "provider_names",
           "provider_plan"]
