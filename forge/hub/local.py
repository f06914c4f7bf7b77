"""Where ModelForge keeps models on this machine, and whether that survives a restart of a Space.

(The models of the local Hub cache are listed by ``catalog.cached_models``, one level below.)
"""

from __future__ import annotations

from ..settings import get_settings


def storage_info() -> dict:
    """Where ModelForge keeps models here, and whether that survives a restart of a Space."""
    from huggingface_hub import constants

    s = get_settings()
    persistent = str(s.home).startswith("/data") if s.on_space else None
    return {"home": str(s.home), "runs": str(s.runs_dir), "models": str(s.models_dir),
            "hub_cache": str(constants.HF_HUB_CACHE), "on_space": s.on_space, "space_id": s.space_id,
            "persistent": persistent, "offline": s.offline}
