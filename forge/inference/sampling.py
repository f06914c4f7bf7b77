"""How an answer is sampled: :class:`GenerationSettings`, checked, and as ``model.generate``'s arguments."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import ConfigError


@dataclass
class GenerationSettings:
    """How an answer is sampled. ``temperature`` 0 means greedy decoding."""

    system_prompt: str = ""
    temperature: float = 0.3  # small models ramble when sampled hot
    top_p: float = 0.9
    top_k: int = 50
    max_new_tokens: int = 200
    repetition_penalty: float = 1.1

    LIMITS = {"temperature": (0.0, 5.0), "top_p": (0.0, 1.0), "top_k": (0, 1000), "max_new_tokens": (1, 8192),
              "repetition_penalty": (0.5, 3.0)}

    @classmethod
    def greedy(cls, max_new_tokens: int) -> GenerationSettings:
        """Plain greedy decoding (no repetition penalty): evaluation's answers."""
        return cls(temperature=0.0, max_new_tokens=max_new_tokens, repetition_penalty=1.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        data = {k: v for k, v in (data or {}).items() if v is not None}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown generation setting(s): {', '.join(unknown)}.",
                              f"Use any of: {', '.join(sorted(known))}.")
        out = cls()
        for name, value in data.items():
            setattr(out, name, _checked(name, value))
        return out

    def generate_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.temperature > 0:
            kw.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw


def _checked(name: str, value: Any) -> Any:
    """One setting's value, of its type and within its bounds; ConfigError naming it otherwise."""
    if name == "system_prompt":
        if not isinstance(value, str):
            raise ConfigError("system_prompt must be text.")
        return value
    kind = int if name in ("top_k", "max_new_tokens") else float
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}.") from None
    lo, hi = GenerationSettings.LIMITS[name]
    if not lo <= number <= hi or (name == "top_p" and number == 0):
        raise ConfigError(f"{name} is {value}; it must be between {lo} and {hi}"
                          + (" (above 0)" if name == "top_p" else "") + ".")
    return number


def as_settings(settings: GenerationSettings | dict | None) -> GenerationSettings:
    """``settings`` as GenerationSettings (a dict is checked; None is the defaults)."""
    return settings if isinstance(settings, GenerationSettings) else GenerationSettings.from_dict(settings)
