"""What of the Hub is on this machine: the models in the local Hub cache, and where ModelForge keeps its own."""

from __future__ import annotations

from pathlib import Path

from ..models import human_size
from ..settings import get_settings


def cached_models(cache_dir: str | Path | None = None) -> list[dict]:
    """Models in the local Hub cache that ModelForge can train: ``{repo_id, path, size, modified}``,
    newest first. No network. The Finetune tab's model picker lists these (their ``repo_id`` is
    the reference to train from: ``catalog.resolve`` finds the cached copy offline)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, OSError):
        return []
    out = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        rev = max(repo.revisions, key=lambda r: r.last_modified)
        path = Path(rev.snapshot_path)
        if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
            out.append({"repo_id": repo.repo_id, "path": str(path), "size": human_size(rev.size_on_disk),
                        "modified": rev.last_modified})
    return sorted(out, key=lambda r: r["modified"], reverse=True)


def storage_info() -> dict:
    """Where ModelForge keeps models here, and whether that survives a restart of a Space."""
    from huggingface_hub import constants

    s = get_settings()
    persistent = str(s.home).startswith("/data") if s.on_space else None
    return {"home": str(s.home), "runs": str(s.runs_dir), "models": str(s.models_dir),
            "hub_cache": str(constants.HF_HUB_CACHE), "on_space": s.on_space, "space_id": s.space_id,
            "persistent": persistent, "offline": s.offline}
