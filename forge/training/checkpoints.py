"""A run's checkpoints: which are whole, which is the last good one, and the space they take.

The Trainer writes ``checkpoints/checkpoint-N`` and then calls ``on_save``; the Job's callback
writes a marker (``COMPLETE``) into the folder at that moment. A folder without the marker was
cut off mid-write: it is never resumed from, and the store's reconciliation removes it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from ..models import folder_size as models_folder_size
from ..models import human_size

MARKER = "COMPLETE"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def folder_size(path: str | Path) -> int:
    """Bytes under a folder, counted as models.folder_size counts them (0 when it does not exist)."""
    return models_folder_size(path) or 0


def mark_complete(folder: str | Path) -> None:
    """Called once the Trainer has written every file of a checkpoint."""
    p = Path(folder)
    if p.is_dir():
        (p / MARKER).write_text("", encoding="utf-8")


def _step(p: Path) -> int | None:
    m = _NAME.match(p.name)
    return int(m.group(1)) if m else None


def all_checkpoints(checkpoints_dir: str | Path) -> list[tuple[int, Path, bool]]:
    """(step, folder, complete) for every ``checkpoint-N`` folder, by step."""
    d = Path(checkpoints_dir)
    if not d.is_dir():
        return []
    out = [(s, p, (p / MARKER).is_file()) for p in d.iterdir() if p.is_dir() and (s := _step(p)) is not None]
    return sorted(out)


def latest(checkpoints_dir: str | Path) -> Path | None:
    """The last whole checkpoint (None when there is none)."""
    whole = [p for _s, p, ok in all_checkpoints(checkpoints_dir) if ok]
    return whole[-1] if whole else None


def describe(checkpoints_dir: str | Path) -> list[dict[str, Any]]:
    """Every whole checkpoint with its step and size (JSON-ready), oldest first."""
    return [{"name": p.name, "step": s, "folder": str(p), "size_bytes": folder_size(p),
             "size": human_size(folder_size(p))}
            for s, p, ok in all_checkpoints(checkpoints_dir) if ok]


def remove_partial(checkpoints_dir: str | Path) -> int:
    """Remove checkpoint folders cut off mid-write; returns the bytes freed."""
    freed = 0
    for _s, p, ok in all_checkpoints(checkpoints_dir):
        if not ok:
            freed += folder_size(p)
            shutil.rmtree(p, ignore_errors=True)
    return freed


def last_good_text(checkpoints_dir: str | Path) -> str:
    """A sentence naming the last whole checkpoint, for failure messages."""
    p = latest(checkpoints_dir)
    if p is None:
        return "No checkpoint was saved before it ended, so it cannot be resumed; start it again."
    return f"The last good checkpoint is {p.name} (step {_step(p)}): resume the run to continue from it."
