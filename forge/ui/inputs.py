"""What the page accepts from its users: model and dataset references (checked against the
sandbox), uploaded files, and a dataset read and validated as a run would train on it.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from ..config import EMBEDDED_MODEL
from ..errors import ConfigError, DataError, ForgeError
from ..settings import get_settings

AUTO_TASK = "auto"
MAX_UPLOAD_MB = int(os.environ.get("MODELFORGE_MAX_UPLOAD_MB", "200"))
DATASET_TYPES = [".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".txt"]


def check_model_ref(ref: str) -> str:
    """The model reference to put in a config from the page, checked by the engine's resolver
    (``forge.refs.base_ref``, sandboxed): the embedded default, a Hub id, or a folder inside the
    allowed folders (a bare name means a folder of the home's models/). A folder outside them
    raises SandboxError; a name that matches nothing, a ConfigError naming the field."""
    from ..errors import ModelNotFoundError
    from ..refs import base_ref

    ref = (ref or "").strip()
    if not ref:
        raise ConfigError("model_name: no model was given.", f"Leave the default ({EMBEDDED_MODEL}) or pick one.")
    try:
        return base_ref(ref, sandbox=True).reference
    except ModelNotFoundError as e:
        raise ConfigError(f"model_name: {e.message[:1].lower()}{e.message[1:]}", e.hint) from None


def check_dataset_ref(ref: str) -> str:
    """A dataset reference from the page: ``sample:NAME``, a Hub dataset id, or a file inside
    the allowed folders (a relative name means a file in the home's datasets/)."""
    from ..data import resolve_source

    ref = (ref or "").strip()
    if not ref:
        raise DataError("No dataset was given.", "Pick a sample dataset or upload a file.")
    resolve_source(ref, sandbox=True)
    return ref


def save_upload(src: str | Path, original_name: str | None = None) -> Path:
    """Copy an uploaded file into the home's datasets/ folder under a unique name."""
    src = Path(src)
    name = Path(original_name or src.name).name
    suffix = Path(name).suffix.lower()
    if suffix not in DATASET_TYPES:
        raise DataError(f"{name}: unsupported file type '{suffix or 'none'}'.",
                        "Upload a .jsonl, .json, .csv, .parquet or .txt file.")
    size = src.stat().st_size
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise DataError(f"{name} is {size / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB.",
                        "Upload a smaller file (or set MODELFORGE_MAX_UPLOAD_MB on the server).")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:60] or "dataset"
    dest = get_settings().datasets_dir / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}{suffix}"
    shutil.copyfile(src, dest)
    return dest


def validate_dataset(ref: str, task: str | None = None, display_name: str | None = None,
                     columns: dict[str, str] | None = None, model: str | None = None) -> dict[str, Any]:
    """Read and validate a dataset as the page would train on it (sandboxed), with the column
    mapping ``columns`` (RunConfig.columns) applied.

    Returns ``{ok, dataset, task, rows, notices, preview, problems, error, columns, templated}``;
    ``problems`` are ``{file, line, message, excerpt}`` with excerpts of at most 80 characters;
    ``columns`` are the file's own columns (also when it fails, so a mapping can be picked);
    the preview is rendered by ``model``'s chat template when its tokenizer is on this machine
    (``templated`` true).
    """
    from .. import data

    task = None if task in (None, "", AUTO_TASK) else task
    out: dict[str, Any] = {"ok": False, "dataset": ref, "task": task, "rows": 0, "notices": [], "preview": [],
                           "problems": [], "error": None, "columns": [], "templated": False}
    try:
        ref = check_dataset_ref(ref)
        ds = data.load(ref, task, sandbox=True, display_name=display_name, columns=columns)
    except ForgeError as e:
        out.update(error=e.message + (f"\nHow to fix: {e.hint}" if e.hint else "") if isinstance(e, DataError)
                   else str(e), problems=[p.to_dict() for p in getattr(e, "problems", None) or []],
                   columns=_file_columns(ref))
        return out
    except Exception as e:  # an unexpected failure is reported, not raised at the page
        out.update(error=f"The dataset could not be read: {type(e).__name__}: {str(e)[:200]}")
        return out
    out.update(ok=True, task=ds.task, rows=len(ds), notices=list(ds.notices), preview=ds.preview(5),
               columns=list(ds.columns))
    from ..data import rendered

    try:
        model = check_model_ref(model) if model else None  # a bare name is a folder of models/
    except ForgeError:  # a model the page cannot use: the preview keeps the plain roles
        model = None
    tok = rendered.tokenizer_for(model) if model else None
    if tok is not None:
        out.update(preview=rendered.rendered_rows(ds.rows, ds.task, tok, model), templated=True)
    return out


def _file_columns(ref: str) -> list[str]:
    """The columns of a dataset that failed to load (none when it cannot be read at all)."""
    from ..data import columns_of

    try:
        return columns_of(ref, sandbox=True)
    except Exception:  # unreadable: there is nothing to map
        return []
