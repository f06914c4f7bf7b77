"""The run store: a TinyDB database of runs (and the models they produced), crash-safe.

Every write goes to a temporary file that is fsynced and then renamed over the database
(``os.replace`` is atomic), under a lock shared by threads and, through ``fcntl``, by
processes; a crash at any moment leaves either the old or the new database, both readable.
The store is also the queue shared by the server and the CLI: ``claim_next`` hands the oldest
queued run to one process under that lock. Runs left ``running`` by a worker that died are
reconciled when a process starts its queue (``forge.training.queue.reconcile``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .settings import get_settings, home_error

ACTIVE = ("queued", "running")
_thread_lock = threading.RLock()


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text) if text.strip() else None

    def write(self, data: dict) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        pass


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


class RunStore:
    """Runs and models. A run record::

        {id, name, config, status, created, started, finished, error, metrics (final),
         history_path (events.jsonl), run_dir, output_dir (adapter or model), provider, task,
         strategy, base_model, artifacts (extra paths)}

    A model record (tables ``models``) is a fine-tuned model: ``{id, name, run_id, kind
    ('adapter'|'merged'|'full'), path, base_model, task, strategy, created, notes}``.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else get_settings().db_path
        self._lockfile = self.path.with_name(f".{self.path.name}.lock")

    @contextlib.contextmanager
    def _db(self) -> Iterator[TinyDB]:
        import fcntl

        with _thread_lock:
            try:
                self._lockfile.parent.mkdir(parents=True, exist_ok=True)
                lf = open(self._lockfile, "a")
            except OSError as e:  # a read-only home: reading still works, a write says why it cannot
                if not self.path.is_file():
                    raise home_error(self.path.parent, e) from None
                lf = open(self.path, "r")
            with lf:
                fcntl.flock(lf, fcntl.LOCK_EX)
                try:
                    db = TinyDB(self.path, storage=AtomicJSONStorage)
                    try:
                        yield db
                    except OSError as e:
                        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                            raise home_error(self.path.parent, e) from None
                        raise
                    finally:
                        db.close()
                finally:
                    fcntl.flock(lf, fcntl.LOCK_UN)

    # ---- one record of a table (runs or models), by id ----------------------------------------
    def _insert(self, table: str, rec: dict[str, Any]) -> dict[str, Any]:
        with self._db() as db:
            db.table(table).insert(rec)
        return rec

    def _update(self, table: str, rec_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set ``fields`` on the record ``rec_id`` and return it as stored (None when there is none)."""
        with self._db() as db:
            t = db.table(table)
            t.update(fields, Query().id == rec_id)
            return t.get(Query().id == rec_id)

    def _get(self, table: str, rec_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            return db.table(table).get(Query().id == rec_id)

    def _remove(self, table: str, rec_id: str) -> None:
        with self._db() as db:
            db.table(table).remove(Query().id == rec_id)

    def _newest_first(self, table: str, status: str | None = None) -> list[dict[str, Any]]:
        """The records of ``table`` (only those with ``status`` when given), newest first."""
        with self._db() as db:
            t = db.table(table)
            rows = t.all() if status is None else t.search(Query().status == status)
        return sorted((dict(r) for r in rows), key=lambda r: r.get("created") or 0, reverse=True)

    # ---- runs ----------------------------------------------------------------------------
    def create_run(self, record: dict[str, Any]) -> dict[str, Any]:
        return self._insert("runs", {"id": new_id(), "status": "queued", "created": time.time(), "started": None,
                                     "finished": None, "error": None, "metrics": {}, **record})

    def update_run(self, run_id: str, **fields: Any) -> dict[str, Any] | None:
        return self._update("runs", run_id, fields)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._get("runs", run_id)

    def list_runs(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._newest_first("runs", status)

    def claim_next(self, supervisor_pid: int, alive: Any) -> dict[str, Any] | None:
        """Hand the oldest queued run to ``supervisor_pid`` (status ``running``), unless a run is
        already training (``alive(record)`` says its worker lives). One process wins a claim."""
        with self._db() as db:
            t = db.table("runs")
            rows = t.all()
            if any(r.get("status") == "running" and alive(r) for r in rows):
                return None
            queued = sorted((r for r in rows if r.get("status") == "queued"),
                            key=lambda r: r.get("queued_at") or r.get("created") or 0)
            if not queued:
                return None
            fields = {"status": "running", "supervisor_pid": supervisor_pid, "pid": None, "claimed": time.time()}
            if not queued[0].get("started"):
                fields["started"] = time.time()
            t.update(fields, Query().id == queued[0]["id"])
            return t.get(Query().id == queued[0]["id"])

    def claim_for_resume(self, run_id: str, statuses: tuple[str, ...], fields: dict[str, Any]) -> dict[str, Any] | None:
        """Update a run only while its status is one of ``statuses`` (None otherwise): two requests
        racing for the same run, one wins."""
        with self._db() as db:
            t = db.table("runs")
            rec = t.get(Query().id == run_id)
            if rec is None or rec.get("status") not in statuses:
                return None
            t.update(fields, Query().id == run_id)
            return t.get(Query().id == run_id)

    def stamp(self) -> tuple:
        """Changes whenever the database file is rewritten (cheap: one stat)."""
        try:
            st = self.path.stat()
        except OSError:
            return ()
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def remove_stale_temp_files(self) -> list[str]:
        """Temporary files of writes cut off by a process that died (named after its pid)."""
        removed = []
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            parts = tmp.name.split(".")
            pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
            if pid is None or pid == os.getpid():
                continue
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                tmp.unlink(missing_ok=True)
                removed.append(str(tmp))
            except PermissionError:
                pass
        return removed

    def delete_run(self, run_id: str) -> None:
        self._remove("runs", run_id)

    # ---- models --------------------------------------------------------------------------
    def add_model(self, record: dict[str, Any]) -> dict[str, Any]:
        return self._insert("models", {"id": new_id(), "created": time.time(), "notes": [], **record})

    def update_model(self, model_id: str, **fields: Any) -> dict[str, Any] | None:
        return self._update("models", model_id, fields)

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return self._get("models", model_id)

    def list_models(self) -> list[dict[str, Any]]:
        return self._newest_first("models")

    def delete_model(self, model_id: str) -> None:
        self._remove("models", model_id)


    # ---- evaluations -----------------------------------------------------------------------
    def add_evaluation(self, record: dict[str, Any]) -> dict[str, Any]:
        rec = {"id": new_id(), "created": time.time(), **record}
        with self._db() as db:
            db.table("evaluations").insert(rec)
        return rec

    def list_evaluations(self, dataset: str | None = None) -> list[dict[str, Any]]:
        with self._db() as db:
            t = db.table("evaluations")
            rows = t.all() if dataset is None else t.search(Query().dataset == dataset)
        return sorted((dict(r) for r in rows), key=lambda r: r.get("created") or 0, reverse=True)


def get_store() -> RunStore:
    return RunStore()
