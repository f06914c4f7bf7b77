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
``result``    ``status``, ``metrics`` (final), ``output_dir``, ``error``
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

    def emit(self, kind: str, **data: Any) -> dict[str, Any]:
        event = {"t": round(time.time(), 3), "kind": kind, **data}
        line = json.dumps(event, ensure_ascii=False, default=_jsonable) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
        return event


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
