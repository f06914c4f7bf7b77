"""Where a fine-tuned model comes from, as a card names it: its base model's Hub id and licence, its dataset."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ..catalog import HUB_ID, hub_cached, is_embedded
from ..data.reader import EXTENSIONS
from ..errors import ForgeError
from ..refs import base_ref
from .client import HubClient
from .reach import bounded

EMBEDDED_LICENSE = "apache-2.0"


def base_hub_id(base: str | None) -> str | None:
    """The base model's Hub id, when it has one (the embedded default is SmolLM2 on the Hub); None for a
    folder on this machine. What a reference stands for is :func:`forge.refs.base_ref`'s rule."""
    try:
        ref = base_ref(base or "")
    except ForgeError:  # no base, or a folder that is gone: nothing on the Hub to name
        return None
    return ref.reference if ref.source in ("embedded", "hub") else None


def _license_of_folder(path: Path) -> str | None:
    with contextlib.suppress(Exception):
        data = json.loads((path / "EMBEDDED.json").read_text())
        if data.get("license"):
            return data["license"]
    readme = path / "README.md"
    if readme.is_file():
        with contextlib.suppress(Exception):
            from huggingface_hub import ModelCard

            return ModelCard(readme.read_text(encoding="utf-8")).data.license
    return None


def base_license(base: str | None, client: HubClient | None = None) -> str | None:
    """The base model's licence: the embedded default's, a local copy's card, else the Hub's
    (only when a client is given and the Hub answers quickly)."""
    if not base:
        return None
    if is_embedded(base):
        return EMBEDDED_LICENSE
    p = Path(base).expanduser()
    if p.is_dir():
        return _license_of_folder(p)
    hub_id = base_hub_id(base)
    if not hub_id:
        return None
    cached = hub_cached(hub_id)
    lic = _license_of_folder(cached) if cached else None
    if lic or client is None:
        return lic
    with contextlib.suppress(Exception):
        return bounded(lambda: client.model_license(hub_id), "reading the base model's licence")
    return None


def dataset_ref(ref: str | None) -> dict:
    """How a run's dataset reference shows on a card: ``{kind: sample|file|hub, name, hub_id}``."""
    ref = (ref or "").strip()
    if ref.startswith("sample:"):
        return {"kind": "sample", "name": ref.split(":", 1)[1], "hub_id": None}
    p = Path(ref)
    if not ref or p.suffix.lower() in EXTENSIONS or ref.startswith((".", "/", "~")) or p.exists() \
            or not HUB_ID.match(ref):
        return {"kind": "file", "name": p.name or "a local file", "hub_id": None}
    return {"kind": "hub", "name": ref, "hub_id": ref}
