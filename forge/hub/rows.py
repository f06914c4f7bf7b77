"""Search results as plain rows: a model's or dataset's id, popularity, size, licence and date."""

from __future__ import annotations

from typing import Any


def license_from_tags(tags: list[str]) -> str | None:
    """The licence a repository's ``license:...`` tag names, if any."""
    return next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)


def params_text(n: int | None) -> str:
    """A parameter count in words: ``494M``, ``1.5B`` ('' when unknown)."""
    if not n:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def _date(modified: Any) -> str:
    return modified.date().isoformat() if modified else ""


def model_row(m: Any) -> dict:
    """A ``huggingface_hub`` ModelInfo as ``{id, downloads, likes, params, size, license, ...}``."""
    st = getattr(m, "safetensors", None)
    params = getattr(st, "total", None) if st is not None else None
    tags = list(getattr(m, "tags", None) or [])
    return {"id": m.id, "downloads": getattr(m, "downloads", None) or 0, "likes": getattr(m, "likes", None) or 0,
            "params": params, "size": params_text(params), "license": license_from_tags(tags) or "",
            "pipeline_tag": getattr(m, "pipeline_tag", None) or "", "library": getattr(m, "library_name", None) or "",
            "gated": bool(getattr(m, "gated", False)), "updated": _date(getattr(m, "last_modified", None))}


def dataset_row(d: Any) -> dict:
    """A ``huggingface_hub`` DatasetInfo as ``{id, downloads, likes, size, license, gated, updated}``."""
    tags = list(getattr(d, "tags", None) or [])
    size = next((t.split(":", 1)[1] for t in tags if t.startswith("size_categories:")), "")
    return {"id": d.id, "downloads": getattr(d, "downloads", None) or 0, "likes": getattr(d, "likes", None) or 0,
            "size": size, "license": license_from_tags(tags) or "", "gated": bool(getattr(d, "gated", False)),
            "updated": _date(getattr(d, "last_modified", None))}
