"""The run's event log: ``runs/<id>/events.jsonl``, append-only, one JSON object a line.

It is the single source of what happened in a run: the live page, the history, the CLI and
any child process read or write this format. Readers keep a byte offset and read only what
was appended since (a partial last line is left for the next read), so following a run costs
the same however long it is.

Event kinds (every event has ``t``, the Unix time, and ``kind``):

``status``    ``status`` (queued|running|completed|failed|stopped), ``message``
``log``       ``level``, ``message``
``metrics``   ``step``, ``epoch``, ``phase``, and the trainer's logged values (``loss``,
              ``eval_loss``, ``learning_rate``, ``grad_norm``, ``rewards/accuracies``, ...)
``progress``  ``step``, ``max_steps``, ``epoch``, ``elapsed``, ``eta``, ``tokens_per_second``, ``phase``
``phase``     ``name``, ``index``, ``total``: a run with several stages (RLHF) starts a new one
``evaluation`` ``metrics`` (task metrics of the fine-tuned model), ``base_metrics`` (of its base),
              ``samples`` (``prompt``, ``reference``, ``before``, ``after``), ``n``, ``seconds``
``checkpoint`` ``step``, ``folder``, ``phase``: a whole checkpoint was written (it can be resumed from)
``result``    ``status``, ``metrics`` (final), ``output_dir``, ``error``

A run that is resumed appends ``status`` ``queued`` with ``resume_step`` (the checkpoint's step)
after its earlier ``result``: readers drop the points logged after that step and follow on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class EventLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._checked = False

    def emit(self, kind: str, **data: Any) -> dict[str, Any]:
        event = {"t": round(time.time(), 3), "kind": kind, **data}
        line = json.dumps(event, ensure_ascii=False, default=_jsonable) + "\n"
        with self._lock:
            if not self._checked:
                repair_torn_tail(self.path)
                self._checked = True
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
        return event


class NullLog:
    """The event log as the ranks other than the writer see it: they write nothing."""

    def emit(self, kind: str, **data: Any) -> dict[str, Any]:
        return {"kind": kind, **data}


def repair_torn_tail(path: str | Path) -> bool:
    """Cut a last line left unfinished by a process that died mid-write (or a full disk), so the
    next event starts on a line of its own. Returns whether anything was cut."""
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return False
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return False
            keep = 0
            pos = size
            while pos > 0 and not keep:
                step = min(65536, pos)
                pos -= step
                f.seek(pos)
                chunk = f.read(step)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    keep = pos + nl + 1
            f.truncate(keep)
            return True
    except FileNotFoundError:
        return False


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def read_events(path: str | Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Events appended after byte ``offset``, and the offset to continue from."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return [], offset
    if size <= offset:
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        chunk = f.read(size - offset)
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for line in chunk[: end + 1].splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events, offset + end + 1


def read_all(path: str | Path) -> list[dict[str, Any]]:
    return read_events(path, 0)[0]
