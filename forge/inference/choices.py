"""Which models can answer: the Playground's picker, the Finetune tab's base models, ``/v1/models``."""

from __future__ import annotations

from pathlib import Path

from .. import catalog, models
from ..config import EMBEDDED_MODEL
from ..settings import get_settings


def base_model_choices() -> list[tuple[str, str]]:
    """``(label, reference)`` of the base models present: the embedded default, then model folders in
    the home's models/ folder, then the models downloaded into the local Hub cache (by Hub id: they
    load from the cache, offline)."""
    out = [(f"{EMBEDDED_MODEL} (embedded default)", EMBEDDED_MODEL)]
    folder = get_settings().models_dir
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p.is_dir() and ((p / "config.json").is_file() or (p / "adapter_config.json").is_file()):
            out.append((f"{p.name} (models/)", str(p)))
    try:
        cached = catalog.cached_models()
    except Exception:  # an unreadable cache must not break the list
        cached = []
    out += [(f"{m['repo_id']} (downloaded, {m['size']})", m["repo_id"]) for m in cached
            if m["repo_id"] != EMBEDDED_MODEL]
    return out


def model_choices() -> list[tuple[str, str]]:
    """``(label, reference)`` of every model that can answer (the Playground's picker and the
    OpenAI-compatible ``/v1/models``): fine-tuned models first (by id), then the base models present."""
    out, paths = [], set()
    for m in models.list_models():
        if not m.get("files_ok"):
            continue
        paths.add(str(Path(m["folder"]).resolve()))
        extra = f" · {m['task']}" if m.get("task") else ""
        out.append((f"{m['name']} · {m.get('kind')}{extra}", m["id"]))
    for label, value in base_model_choices():
        if value == EMBEDDED_MODEL or str(Path(value).resolve()) not in paths:
            out.append((label if value == EMBEDDED_MODEL else f"{label} · base", value))
    return out
