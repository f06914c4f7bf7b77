"""Providers: how weights are loaded. Adding one is a new file plus one line in PROVIDERS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError, UnavailableError
from .base import LoadedModel, ModelProvider
from .huggingface import HuggingFaceProvider
from .unsloth import UnslothProvider

if TYPE_CHECKING:  # annotations only: the config imports the providers (to check `provider`), not the reverse
    from ..catalog import ResolvedModel
    from ..config import RunConfig


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


def _can_run(p: ModelProvider, strategy: str, config: RunConfig | None = None,
             resolved: ResolvedModel | None = None) -> tuple[bool, str]:
    """Whether provider ``p`` can train ``strategy`` here (and load ``resolved`` when given), and why not."""
    ok, why = p.available()
    if ok:
        ok, why = p.trains(strategy)
    if ok and resolved is not None and config is not None:
        ok, why = p.supports(resolved, config)
    return ok, why


def _auto(strategy: str, config: RunConfig | None = None,
          resolved: ResolvedModel | None = None) -> tuple[ModelProvider | None, list[str]]:
    """The first fast provider (listed before huggingface) that can run this, or None with the reasons."""
    reasons = []
    for name in PROVIDERS:
        if name == "huggingface":
            continue
        p = get_provider(name)
        ok, why = _can_run(p, strategy, config, resolved)
        if ok:
            return p, reasons
        reasons.append(f"{name}: {why}")
    return None, reasons


def provider_plan(provider: str, strategy: str) -> tuple[bool, str]:
    """What the form says before a run: whether ``provider`` can train ``strategy`` here, and
    which provider ``auto`` will take (the model's architecture is checked when the run starts)."""
    if provider != "auto":
        p = get_provider(provider)
        ok, why = _can_run(p, strategy)
        return ok, (f"{p.name}: {p.description}" if ok else f"The {p.name} provider cannot run this here: {why}. "
                    "Choose auto (or huggingface), which runs everywhere.")
    fast, reasons = _auto(strategy)
    if fast is not None:
        return True, (f"auto will use {fast.name} when it supports the model's architecture, "
                      "huggingface otherwise; the run's log says which ran and why.")
    return True, "auto will use huggingface (" + "; ".join(reasons) + ")." if reasons else "auto will use huggingface."


def choose_provider(config: RunConfig, resolved: ResolvedModel | None = None) -> tuple[ModelProvider, str]:
    """The provider a run uses, and why. ``auto`` takes the first available provider that
    supports the model (the fast ones are listed before huggingface), else huggingface."""
    if config.provider != "auto":
        p = get_provider(config.provider)
        ok, why = _can_run(p, config.strategy, config, resolved)
        if not ok:
            raise UnavailableError(f"provider: the {p.name} provider cannot run this here: {why}",
                                   "Choose provider auto (or huggingface), which runs everywhere.")
        return p, f"{p.name} (chosen in the config)"
    fast, reasons = _auto(config.strategy, config, resolved)
    if fast is not None:
        return fast, f"{fast.name} (auto: available and supports this model)"
    return get_provider("huggingface"), "huggingface (auto" + (f"; {'; '.join(reasons)}" if reasons else "") + ")"


__all__ = ["PROVIDERS", "LoadedModel", "ModelProvider", "choose_provider", "get_provider", "provider_names",
           "provider_plan"]
