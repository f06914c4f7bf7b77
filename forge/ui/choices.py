"""What the Finetune form offers, read from the engine's registries: strategies and providers
(with whether this machine can run them, and why not), tasks, bundled samples, base models."""

from __future__ import annotations

from typing import Any

from .inputs import AUTO_TASK

CLI_COMMAND = "python -m forge train config.yaml"


# ---- hardware, registries, defaults ----------------------------------------------------------

def hardware():
    from ..hardware import detect

    return detect()


def strategy_options(hw=None) -> list[dict[str, Any]]:
    """Every registered strategy with whether this machine can run it, and why not."""
    from ..strategies import STRATEGIES

    out = []
    for name, cls in STRATEGIES.items():
        ok, why = True, ""
        if hw is not None:
            try:
                ok, why = cls().available(hw)
            except Exception as e:  # a broken strategy must not break the page
                ok, why = False, f"{type(e).__name__}: {e}"
        out.append({"name": name, "label": cls.label or name, "description": cls.description,
                    "tasks": list(cls.tasks), "available": bool(ok), "reason": why or ""})
    return out


def strategy_choices(hw=None) -> list[tuple[str, str]]:
    return [(o["label"] if o["available"] else f"{o['label']} (unavailable: {o['reason']})", o["name"])
            for o in strategy_options(hw)]


def provider_options() -> list[dict[str, Any]]:
    from ..providers import PROVIDERS

    out = [{"name": "auto", "label": "auto (the fastest available)", "available": True, "reason": ""}]
    for name, cls in PROVIDERS.items():
        try:
            ok, why = cls().available()
        except Exception as e:
            ok, why = False, f"{type(e).__name__}: {e}"
        out.append({"name": name, "label": f"{name}: {getattr(cls, 'description', '')}".rstrip(": "),
                    "available": bool(ok), "reason": why or ""})
    return out


def provider_choices() -> list[tuple[str, str]]:
    return [(o["label"] if o["available"] else f"{o['name']} (unavailable: {o['reason']})", o["name"])
            for o in provider_options()]


def provider_markdown(provider: str, strategy: str) -> tuple[bool, str]:
    """What the form says under the provider picker, and whether Start may be pressed."""
    from ..providers import provider_plan

    try:
        ok, text = provider_plan(provider or "auto", strategy or "sft")
    except Exception as e:  # a broken optional install must not break the form
        ok, text = False, f"{type(e).__name__}: {e}"
    return ok, text if ok else f"⚠ {text}"


def strategy_markdown(strategy: str, hw=None) -> str:
    for o in strategy_options(hw):
        if o["name"] == strategy:
            text = f"{o['description']} Trains on: {', '.join(o['tasks'])}."
            if not o["available"]:
                text = f"⚠ Unavailable here: {o['reason']}. " + text
            return text
    return ""


def task_choices() -> list[tuple[str, str]]:
    from ..data import TASK_SPECS

    return [("Detect from the columns", AUTO_TASK)] + [(f"{s.label} ({name})", name) for name, s in TASK_SPECS.items()]


def sample_choices() -> list[tuple[str, str]]:
    from ..data import samples

    return [(name, f"sample:{name}") for name in samples()]


def model_choices() -> list[tuple[str, str]]:
    """The embedded default, then model folders in the home's models/ folder, then the models
    downloaded into the local Hub cache (by Hub id: they load from the cache, offline)."""
    from ..inference import base_model_choices

    return base_model_choices()
