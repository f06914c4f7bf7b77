"""What a studio leaves on disk and how to clean it: uploaded datasets, runs (with their
checkpoints), exported archives and the temporary folders of downloads. Every deletion says
what it freed; nothing in use is deleted."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .errors import BusyError, ForgeError
from .models import exports_root, human_size
from .runs import ACTIVE, RunStore, get_store
from .settings import get_settings
from .training.checkpoints import folder_size

TEMP_MAX_AGE_S = 24 * 3600


def configs_root() -> Path:
    """Where downloadable config files live (one folder per content), under the system's temporary
    folder, which the web server may serve files from."""
    return Path(tempfile.gettempdir()) / "modelforge-configs"


def temp_folders() -> tuple[Path, ...]:
    """The temporary folders a studio writes (made again on demand, so old items may go)."""
    return configs_root(), exports_root()


def delete_run(run_id: str, store: RunStore | None = None) -> dict[str, Any]:
    """Delete a run that is not active: its record, event log and checkpoints. The model it saved
    stays when it is listed on the Models tab (delete it there)."""
    store = store or get_store()
    rec = store.get_run((run_id or "").strip())
    if rec is None:
        raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs.")
    if rec.get("status") in ACTIVE:
        raise BusyError(f"Run '{rec.get('name')}' is {rec['status']}: it cannot be deleted now.",
                        "Stop it first, then delete it.")
    folder = Path(rec.get("run_dir") or get_settings().runs_dir / rec["id"])
    kept = {Path(m["path"]).resolve() for m in store.list_models() if m.get("run_id") == rec["id"] and m.get("path")}
    freed = 0
    if folder.is_dir() and _inside(folder, get_settings().runs_dir):
        for item in folder.iterdir():
            if item.resolve() in kept:
                continue
            freed += folder_size(item) if item.is_dir() else item.stat().st_size
            shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
    store.delete_run(rec["id"])
    return {"run_id": rec["id"], "name": rec.get("name"), "freed_bytes": freed, "freed": human_size(freed),
            "kept_model": sorted(str(p) for p in kept)}


def list_datasets() -> list[dict[str, Any]]:
    """The uploaded dataset files, newest first, with their size."""
    d = get_settings().datasets_dir
    files = sorted((p for p in d.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True) \
        if d.is_dir() else []
    return [{"name": p.name, "file": str(p), "size_bytes": p.stat().st_size, "size": human_size(p.stat().st_size),
             "modified": p.stat().st_mtime} for p in files]


def delete_dataset(name: str, store: RunStore | None = None) -> dict[str, Any]:
    """Delete an uploaded dataset file (by its name in the datasets folder), unless a queued or
    running run reads it."""
    folder = get_settings().datasets_dir
    path = (folder / Path((name or "").strip()).name)
    if not (name or "").strip() or not path.is_file():
        raise ForgeError(f"There is no uploaded dataset '{name}'.", "List them with /datasets (or forge datasets).")
    for rec in (store or get_store()).list_runs():
        used = str((rec.get("config") or {}).get("dataset") or "")
        if rec.get("status") in ACTIVE and used and Path(used).name == path.name:
            raise BusyError(f"Run '{rec.get('name')}' ({rec['status']}) trains on {path.name}.",
                            "Delete the file once that run has ended.")
    size = path.stat().st_size
    path.unlink()
    return {"name": path.name, "freed_bytes": size, "freed": human_size(size)}


def list_exports() -> list[dict[str, Any]]:
    """The archives made for download (one folder per model), newest first, with their size."""
    base = exports_root()
    folders = sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True) if base.is_dir() else []
    out = []
    for f in folders:
        size = folder_size(f)
        out.append({"name": f.name, "files": sorted(x.name for x in f.iterdir()), "size_bytes": size,
                    "size": human_size(size), "modified": f.stat().st_mtime})
    return out


def delete_export(name: str) -> dict[str, Any]:
    """Delete a model's download archives (made again when downloaded again)."""
    folder = exports_root() / Path((name or "").strip()).name
    if not (name or "").strip() or not folder.is_dir() or folder.name.startswith("."):
        raise ForgeError(f"There is no export '{name}'.", "List them with /exports (or forge exports).")
    size = folder_size(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return {"name": folder.name, "freed_bytes": size, "freed": human_size(size)}


def storage() -> list[dict[str, Any]]:
    """Uploaded datasets and download archives together, for one list with a Delete button: each
    with ``key`` (``dataset:NAME`` or ``export:NAME``), what it is, its name and size."""
    rows = [{"key": f"dataset:{d['name']}", "what": "uploaded dataset", **d} for d in list_datasets()]
    rows += [{"key": f"export:{e['name']}", "what": "download archive", **e} for e in list_exports()]
    return sorted(rows, key=lambda r: r["modified"], reverse=True)  # newest first, whatever its kind


def delete_stored(key: str) -> dict[str, Any]:
    """Delete what ``storage()`` listed under ``key``."""
    kind, _, name = (key or "").partition(":")
    if kind == "dataset":
        return delete_dataset(name)
    if kind == "export":
        return delete_export(name)
    raise ForgeError(f"'{key}' is neither an uploaded dataset nor an export.", "Pick one from the list.")


def clean_temp(max_age_s: float = TEMP_MAX_AGE_S) -> dict[str, Any]:
    """Remove downloadable configs and export archives older than ``max_age_s`` from the system's
    temporary folder (they are made again on demand)."""
    removed, freed = [], 0
    now = time.time()
    for base in temp_folders():
        if not base.is_dir():
            continue
        for item in base.iterdir():
            try:
                age = now - item.stat().st_mtime
            except OSError:
                continue
            if age >= max_age_s or item.name.startswith(".partial"):
                freed += folder_size(item) if item.is_dir() else item.stat().st_size
                shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink(missing_ok=True)
                removed.append(str(item))
    return {"removed": removed, "freed_bytes": freed}


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False
