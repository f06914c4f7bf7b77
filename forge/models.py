"""The fine-tuned models: list them with their size and final losses, rename, delete.

A model record lives in the run store (``RunStore`` table ``models``); its files are a folder
(``runs/<id>/model`` for what a run produced, ``models/<name>-merged`` for a merged model).
Listing never fails on a model whose files are gone: it is flagged ``files_ok: false``.
Deleting removes the folder and the record, and refuses while a queued or running run, or
the Playground (answering or loading), uses the model.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from .errors import BusyError, ConfigError, ModelNotFoundError
from .runs import ACTIVE, RunStore, get_store
from .settings import get_settings

log = logging.getLogger(__name__)

MAX_NAME = 100


def folder_size(path: str | Path) -> int | None:
    """Bytes used by the files under ``path`` (None when it does not exist)."""
    p = Path(path)
    if not p.exists():
        return None
    if p.is_file():
        return p.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def human_size(n: float | None) -> str:
    """Bytes in words, 1024 to a unit ("–" for None): "512 B", "1.5 KB", "3.2 GB"."""
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def slug(name: str) -> str:
    """``name`` as a file name: letters, digits, '.', '_' and '-' (at most 60; "model" when nothing is left)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name or "").strip("-._")
    return s[:60] or "model"


def exports_root() -> Path:
    """Where download archives live (one folder per model): under the system's temporary folder,
    which the web server may serve files from wherever the ModelForge home is."""
    return Path(tempfile.gettempdir()) / "modelforge-exports"


def export_folder(model_id: str) -> Path:
    """Where a model's archives are written."""
    return exports_root() / slug(model_id)


# ---- what is being done with a model's folder (merge, export): deleting waits for it --------------

_busy: dict[str, str] = {}  # folder -> what is being done with it
_busy_lock = threading.Lock()


def in_progress(folder: str | Path) -> str | None:
    """What a merge or export is doing with ``folder`` now (None when nothing)."""
    folder = Path(folder).resolve()
    with _busy_lock:
        for f, what in _busy.items():
            p = Path(f)
            if p == folder or p.is_relative_to(folder):
                return what
    return None


@contextlib.contextmanager
def working(folder: Path, what: str) -> Iterator[None]:
    """Mark ``folder`` as being ``what`` (merged, exported) while the block runs; BusyError when it
    already is."""
    key = str(folder.resolve())
    with _busy_lock:
        if key in _busy:
            raise BusyError(f"This model is already being {_busy[key]}.", "Wait for that to finish.")
        _busy[key] = what
    try:
        yield
    finally:
        with _busy_lock:
            _busy.pop(key, None)


def files_ok(rec: dict[str, Any]) -> bool:
    p = Path(rec.get("path") or "")
    if not p.is_dir():
        return False
    if rec.get("kind") == "adapter":
        return (p / "adapter_config.json").is_file()
    if rec.get("kind") == "gguf":
        return any(p.glob("*.gguf"))
    return (p / "config.json").is_file()


def summary(rec: dict[str, Any], run: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model record with what a list shows: size on disk, final losses, files present. JSON-ready
    (the record's ``path`` is given as ``folder``: API clients take a ``path`` key for a file to fetch)."""
    metrics = (run or {}).get("metrics") or {}
    ok = files_ok(rec)
    return {
        "id": rec["id"], "name": rec.get("name") or rec["id"], "kind": rec.get("kind"),
        "base_model": rec.get("base_model"), "task": rec.get("task"), "strategy": rec.get("strategy"),
        "created": rec.get("created"), "folder": rec.get("path"), "run_id": rec.get("run_id"),
        "quantized_base": bool(rec.get("quantized_base")), "source_model": rec.get("source_model"),
        "size_bytes": folder_size(rec["path"]) if ok else None, "files_ok": ok,
        "train_loss": metrics.get("loss", metrics.get("train_loss")), "eval_loss": metrics.get("eval_loss"),
        "notes": list(rec.get("notes") or []),
    }


def list_models(store: RunStore | None = None) -> list[dict[str, Any]]:
    """Every fine-tuned model, newest first."""
    store = store or get_store()
    runs = {r["id"]: r for r in store.list_runs()}
    return [summary(m, runs.get(m.get("run_id"))) for m in store.list_models()]


def get_record(model_id: str, store: RunStore | None = None) -> dict[str, Any]:
    rec = (store or get_store()).get_model((model_id or "").strip())
    if rec is None:
        raise ModelNotFoundError(f"There is no model '{model_id}'.", "Pick a model from the list of models (/models).")
    return rec


def detail(model_id: str, store: RunStore | None = None) -> dict[str, Any]:
    """One model: its summary, the config of the run that made it, final metrics, recorded samples,
    and the end-of-run evaluation (``metrics``, ``base_metrics``, before/after ``samples``)."""
    store = store or get_store()
    rec = get_record(model_id, store)
    run = store.get_run(rec.get("run_id") or "") or {}
    out = summary(rec, run)
    config = run.get("config") or {}
    config_yaml = None
    for p in (Path(rec.get("path") or "") / "run_config.yaml", Path(run.get("run_dir") or "") / "config.yaml"):
        if p.is_file():
            config_yaml = p.read_text(encoding="utf-8")
            break
    out.update({
        "config": config, "config_yaml": config_yaml, "metrics": run.get("metrics") or {},
        "samples": run.get("samples") or rec.get("samples") or [],
        "evaluation": run.get("evaluation") or rec.get("evaluation") or None,
        "run": {k: run.get(k) for k in ("id", "name", "status", "dataset", "started", "finished", "provider")}
        if run else None,
        "artifacts": {k: str(v) for k, v in (rec.get("artifacts") or {}).items()},
    })
    return out


def _taken(name: str, store: RunStore, model_id: str | None = None) -> dict[str, Any] | None:
    """The other model already called ``name`` (names are unique, whatever their case)."""
    return next((m for m in store.list_models() if m["id"] != model_id
                 and str(m.get("name") or "").casefold() == name.casefold()), None)


def free_name(wanted: str, store: RunStore) -> str:
    """A name for a new model: ``wanted`` made safe (no '/', so never a Hub or base model id) and
    unique (``name-2``, ``name-3``... when taken)."""
    base = " ".join(str(wanted or "model").replace("/", "-").replace("\\", "-").split())[:MAX_NAME - 4] or "model"
    name, n = base, 1
    while _taken(name, store):
        n += 1
        name = f"{base}-{n}"
    return name


def rename(model_id: str, name: str, store: RunStore | None = None) -> dict[str, Any]:
    store = store or get_store()
    get_record(model_id, store)
    name = " ".join((name or "").split())
    if not name:
        raise ConfigError("The new name is empty.", "Type a name for the model.")
    if len(name) > MAX_NAME:
        raise ConfigError(f"The name is {len(name)} characters long; at most {MAX_NAME} are allowed.")
    if "/" in name or "\\" in name:
        raise ConfigError(f"'{name}' has the shape of a Hub id or a path: a fine-tuned model's name cannot "
                          "contain '/' or '\\', so it can never stand for a base model.",
                          "Use '-' instead, for example " + name.replace("/", "-").replace("\\", "-") + ".")
    other = _taken(name, store, model_id)
    if other:
        raise ConfigError(f"Another model is already called '{other['name']}' ({other['id']}).",
                          "Pick a name no other model has.")
    rec = store.update_model(model_id, name=name)
    return summary(rec, store.get_run(rec.get("run_id") or ""))


# ---- deleting --------------------------------------------------------------------------------

# The models loaded for answering in this process: forge.inference's registry, which sets itself here
# when it is made (so this module needs no import of it). None: no model was loaded in this process.
_loaded_models = None


def track_loaded_models(registry) -> None:
    """Let deleting ask ``registry`` whether a model's folder is answering, and release it first."""
    global _loaded_models
    _loaded_models = registry


def _inside(path: str | Path | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        p = Path(path).expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return p == folder or p.is_relative_to(folder)


def users(model_id: str, store: RunStore | None = None, registry=None) -> list[str]:
    """Why the model cannot be deleted now: the runs, Playground sessions and models using it."""
    store = store or get_store()
    rec = get_record(model_id, store)
    folder = Path(rec.get("path") or "").resolve()
    reasons = []
    for run in store.list_runs():
        if run.get("status") not in ACTIVE:
            continue
        cfg = run.get("config") or {}
        if any(_inside(cfg.get(k), folder) or cfg.get(k) == model_id for k in ("model_name", "reward_model")):
            reasons.append(f"run '{run.get('name') or run['id']}' ({run['status']}) trains on it")
    registry = registry or _loaded_models
    if registry is not None and registry.in_use(folder):
        reasons.append("the Playground is answering with it or loading it")
    if (doing := in_progress(folder)):
        reasons.append(f"it is being {doing}")
    for other in store.list_models():
        if other["id"] != model_id and _inside(other.get("base_model"), folder) and files_ok(other):
            reasons.append(f"model '{other.get('name') or other['id']}' is built on it")
    return reasons


def _owned(path: Path) -> bool:
    """Whether ``path`` lies in the folders ModelForge writes models to (so it may delete it)."""
    s = get_settings()
    return any(_inside(path, root.resolve()) and path.resolve() != root.resolve() for root in (s.runs_dir, s.models_dir))


def deletion_targets(model_id: str, store: RunStore | None = None) -> list[tuple[Path, str, bool]]:
    """What deleting a model removes: (folder, what it is, whether it is ModelForge's own to
    remove), existing folders only. The model's folder; for a run's own model, the run's
    checkpoints (copies of it on the way); its exported archives."""
    store = store or get_store()
    rec = get_record(model_id, store)
    folder = Path(rec.get("path") or "")
    targets = [(folder, "its folder", None)]
    run = store.get_run(rec.get("run_id") or "") or {}
    if rec.get("kind") in ("adapter", "full") and run.get("run_dir") and folder.parent == Path(run["run_dir"]):
        targets.append((Path(run["run_dir"]) / "checkpoints", "the run's checkpoints and TensorBoard logs", None))
    targets.append((export_folder(model_id), "its exported archives", True))
    return [(t, what, owned if owned is not None else _owned(t)) for t, what, owned in targets
            if t.parts and t.exists()]


def delete(model_id: str, store: RunStore | None = None, registry=None) -> dict[str, Any]:
    """Remove a model's files and its record. BusyError while something uses it."""
    store = store or get_store()
    rec = get_record(model_id, store)
    reasons = users(model_id, store, registry)
    if reasons:
        raise BusyError(f"Model '{rec.get('name') or model_id}' is in use: " + "; ".join(reasons) + ".",
                        "Wait for the run to end or stop it, stop the Playground's answer, or delete the models "
                        "built on it first; then delete again.")
    registry = registry or _loaded_models
    folder = Path(rec.get("path") or "")
    if folder.parts and registry is not None:
        registry.release_folder(folder)
    removed, kept, freed = [], [], 0
    for t, _what, owned in deletion_targets(model_id, store):
        if not owned:
            kept.append(str(t))
            continue
        freed += folder_size(t) or 0
        shutil.rmtree(t, ignore_errors=True)
        removed.append(str(t))
    store.delete_model(model_id)
    log.info("deleted model %s (%s)", model_id, ", ".join(removed) or "no files")
    out = {"deleted": model_id, "name": rec.get("name"), "removed": removed, "freed_bytes": freed}
    if kept:
        out["kept"] = kept
        out["note"] = "Files outside ModelForge's own folders were left in place: " + ", ".join(kept)
    return out


__all__ = ["delete", "detail", "export_folder", "exports_root", "files_ok", "folder_size", "get_record", "human_size",
           "in_progress", "list_models", "rename", "slug", "summary", "track_loaded_models", "users", "working"]
