"""Taking a model away: merge a LoRA adapter into its base, and zip a model folder for download.

* :func:`merge` folds an adapter into its base model with PEFT's ``merge_and_unload`` and
  saves a standalone model (safetensors weights, tokenizer and chat template, generation
  config) as a new model record of kind ``merged``. A QLoRA adapter, trained on a 4-bit base,
  is merged into the full-precision base; the record's notes say so.
* :func:`archive` zips an adapter or a model folder (``shutil.make_archive``) into a folder
  the web server may serve from, reporting progress as the archive grows.

Both report progress through ``progress(fraction, message)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, ModelNotFoundError
from .models import (
    export_folder,
    files_ok,
    folder_size,
    get_record,
    human_size,
    slug,
    summary,
    working,
)
from .refs import base_spec_of, spec_from_record
from .runs import RunStore, get_store
from .settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
QLORA_NOTE = ("Merged into the full-precision base model: the adapter was trained on a 4-bit quantized base (QLoRA), "
              "so the merged model's answers can differ slightly from those of the fine-tuned 4-bit model.")

def _unique(folder: Path) -> Path:
    if not folder.exists():
        return folder
    for i in range(2, 10_000):
        candidate = folder.with_name(f"{folder.name}-{i}")
        if not candidate.exists():
            return candidate
    return folder.with_name(f"{folder.name}-{uuid.uuid4().hex[:6]}")


def _record(model_id: str, store: RunStore) -> dict[str, Any]:
    rec = get_record(model_id, store)
    if not files_ok(rec):
        raise ModelNotFoundError(f"The files of model '{rec.get('name') or model_id}' are missing "
                                 f"(expected in {rec.get('path')}).", "Delete the model, or train it again.")
    return rec


# ---- merge -----------------------------------------------------------------------------------

def merge(model_id: str, name: str | None = None, *, progress: Progress | None = None,
          store: RunStore | None = None) -> dict[str, Any]:
    """Merge the LoRA adapter ``model_id`` into its base; returns the new model's summary
    (``forge.models.summary``: its folder is under ``folder``)."""
    store = store or get_store()
    say = progress or (lambda f, m: None)
    rec = _record(model_id, store)
    if rec.get("kind") != "adapter":
        raise ConfigError(f"'{rec.get('name') or model_id}' is a {rec.get('kind')} model, already standalone: only a "
                          "LoRA adapter can be merged.", "Export it as it is.")
    spec = spec_from_record(rec)
    adapter_dir = spec.path
    base_dir = base_spec_of(spec).path
    name = " ".join((name or "").split()) or f"{rec.get('name') or model_id} (merged)"
    out = _unique(get_settings().models_dir / f"{slug(rec.get('name') or model_id)}-merged")
    tmp = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:6]}")
    notes = [f"Merged from adapter '{rec.get('name') or model_id}' ({model_id}) into {rec.get('base_model')}."]
    if rec.get("quantized_base"):
        notes.append(QLORA_NOTE)
    with working(adapter_dir, "merged"):
        t0 = time.monotonic()
        try:
            _merge_into(tmp, base_dir, adapter_dir, say)
            if (adapter_dir / "run_config.yaml").is_file():
                shutil.copy2(adapter_dir / "run_config.yaml", tmp / "run_config.yaml")
            (tmp / "MERGED.json").write_text(json.dumps({
                "source_model": model_id, "adapter": str(adapter_dir), "base_model": rec.get("base_model"),
                "quantized_base": bool(rec.get("quantized_base")), "notes": notes, "created": time.time()},
                indent=2), encoding="utf-8")
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            _free_memory()
    new = store.add_model({
        "name": name, "run_id": rec.get("run_id"), "kind": "merged", "path": str(out),
        "base_model": rec.get("base_model"), "task": rec.get("task"), "strategy": rec.get("strategy"),
        "quantized_base": False, "merged_from_quantized": bool(rec.get("quantized_base")),
        "source_model": model_id, "notes": notes,
    })
    say(1.0, f"Merged in {time.monotonic() - t0:.1f} s.")
    log.info("merged %s into %s", model_id, out)
    return summary(new, store.get_run(new.get("run_id") or ""))


def _merge_into(out: Path, base_dir: Path, adapter_dir: Path, say: Progress) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say(0.05, f"Loading the base model {Path(base_dir).name} in full precision…")
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    say(0.45, "Loading the adapter…")
    model = PeftModel.from_pretrained(base, adapter_dir)
    say(0.6, "Merging the adapter into the weights…")
    merged = model.merge_and_unload()
    tok_dir = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else base_dir
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    say(0.7, "Saving the merged model (safetensors)…")
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    if getattr(merged, "generation_config", None) is not None:
        merged.generation_config.save_pretrained(out)
    say(0.9, "Saving the tokenizer and chat template…")
    tokenizer.save_pretrained(out)


def _free_memory() -> None:
    import gc

    gc.collect()


# ---- zip -------------------------------------------------------------------------------------

def grow_watched(work: Callable[[], Any], path: Path, report: Callable[[int], None], poll: float = 0.5) -> None:
    """Run ``work`` (which writes ``path``) in a thread, calling ``report(bytes written so far)`` every
    ``poll`` seconds; its error is raised here, in the caller's thread."""
    errors: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as e:  # noqa: BLE001 — raised below
            errors.append(e)

    t = threading.Thread(target=run, name="forge-export", daemon=True)
    t.start()
    while t.is_alive():
        t.join(poll)
        report(path.stat().st_size if path.exists() else 0)
    if errors:
        raise errors[0]


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(os.path.join(root, f)).st_mtime)
    return newest


def archive(model_id: str, *, progress: Progress | None = None, store: RunStore | None = None,
            poll: float = 0.2) -> Path:
    """Zip a model's folder (adapter, full or merged model); returns the ``.zip``'s path."""
    store = store or get_store()
    say = progress or (lambda f, m: None)
    rec = _record(model_id, store)
    folder = Path(rec["path"])
    dest_dir = export_folder(model_id)
    dest_dir.mkdir(parents=True, exist_ok=True)
    stem = slug(rec.get("name") or model_id)
    kind = rec.get("kind") or "model"
    target = dest_dir / f"{stem if stem.endswith(kind) else f'{stem}-{kind}'}.zip"
    if target.is_file() and target.stat().st_mtime >= _newest_mtime(folder):
        say(1.0, "Ready (zipped before).")
        return target
    with working(folder, "exported"):
        for old in dest_dir.glob("*.zip"):
            old.unlink(missing_ok=True)
        total = max(1, folder_size(folder) or 1)
        partial = dest_dir / f".partial-{uuid.uuid4().hex[:8]}"
        say(0.0, f"Zipping {human_size(total)}…")
        zip_path = Path(str(partial) + ".zip")
        try:
            grow_watched(lambda: shutil.make_archive(str(partial), "zip", root_dir=folder), zip_path,
                         lambda done: say(min(0.99, done / total),
                                          f"Zipping… {human_size(done)} written ({human_size(total)} of files)"), poll)
        except BaseException:
            zip_path.unlink(missing_ok=True)
            raise
        os.replace(zip_path, target)
    say(1.0, f"Ready: {target.name} ({human_size(target.stat().st_size)}).")
    return target


__all__ = ["archive", "grow_watched", "merge"]
