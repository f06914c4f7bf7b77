"""The Job queue: one Job trains at a time; later submissions wait and know their position.

The queue owns the training, not the browser: a Job runs in a worker thread of the server
process whatever happens to the page that started it.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any

from ..config import RunConfig, parse_config
from ..errors import ForgeError
from ..runs import RunStore, get_store
from .events import EventLog
from .job import Job, run_dir


class JobQueue:
    def __init__(self, store: RunStore | None = None):
        self.store = store or get_store()
        self._waiting: collections.deque[Job] = collections.deque()
        self._current: Job | None = None
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None

    # ---- submitting ----------------------------------------------------------------------
    def submit(self, config: RunConfig | dict, *, sandbox: bool = False, dataset_name: str | None = None) -> dict[str, Any]:
        """Queue a run. Returns its record (``status: queued``)."""
        config = parse_config(config)
        rec = self.store.create_run({
            "name": config.run_name or "", "config": config.to_dict(), "config_set": sorted(config.user_fields()),
            "base_model": config.model_name, "strategy": config.strategy, "task": config.task,
            "dataset": dataset_name or config.dataset, "pid": os.getpid(),
        })
        if not config.run_name:
            rec = self.store.update_run(rec["id"], name=f"{config.strategy}-{rec['id']}")
        (run_dir(rec["id"])).mkdir(parents=True, exist_ok=True)
        rec = self.store.update_run(rec["id"], run_dir=str(run_dir(rec["id"])),
                                    events_path=str(run_dir(rec["id"]) / "events.jsonl"))
        job = Job(rec["id"], config, self.store, sandbox=sandbox, dataset_name=dataset_name)
        with self._cond:
            self._waiting.append(job)
            pos = len(self._waiting) + (1 if self._current else 0) - 1
            job.events.emit("status", status="queued",
                            message="Queued: starts now." if pos == 0 else f"Queued: {pos} run(s) ahead of this one.")
            self._ensure_worker()
            self._cond.notify_all()
        return rec

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._loop, name="forge-job-worker", daemon=True)
            self._worker.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                job = self._waiting.popleft()
                self._current = job
            try:
                job.run()
            finally:
                with self._cond:
                    self._current = None
                    self._cond.notify_all()
                    for i, waiting in enumerate(self._waiting):
                        waiting.events.emit("status", status="queued",
                                            message="Starting next." if i == 0 else f"Queued: {i} run(s) ahead of this one.")

    # ---- looking and stopping ------------------------------------------------------------
    def position(self, run_id: str) -> int | None:
        """0 while running, n when n runs are ahead of it, None when not in the queue."""
        with self._cond:
            if self._current and self._current.run_id == run_id:
                return 0
            for i, job in enumerate(self._waiting):
                if job.run_id == run_id:
                    return i + (1 if self._current else 0)
        return None

    @property
    def current(self) -> Job | None:
        return self._current

    def active_ids(self) -> list[str]:
        with self._cond:
            return ([self._current.run_id] if self._current else []) + [j.run_id for j in self._waiting]

    def stop(self, run_id: str) -> str:
        """Stop a running run at the next step, or cancel a queued one. Returns what was done."""
        with self._cond:
            if self._current and self._current.run_id == run_id:
                self._current.stop()
                return "stopping"
            for job in list(self._waiting):
                if job.run_id == run_id:
                    self._waiting.remove(job)
                    job.events.emit("status", status="stopped", message="Cancelled before it started.")
                    job.events.emit("result", status="stopped", metrics={}, output_dir=None, error=None)
                    self.store.update_run(run_id, status="stopped", finished=time.time())
                    return "cancelled"
        rec = self.store.get_run(run_id)
        if rec is None:
            raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs.")
        return f"not active (status: {rec['status']})"

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the run has ended; returns its record."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            rec = self.store.get_run(run_id)
            if rec and rec["status"] not in ("queued", "running"):
                return rec
            if deadline and time.time() > deadline:
                return rec
            time.sleep(0.2)


_queue: JobQueue | None = None
_queue_lock = threading.Lock()


def get_queue() -> JobQueue:
    """The process's queue; on first use, marks runs left active by a dead process interrupted."""
    global _queue
    with _queue_lock:
        if _queue is None or _queue.store.path != get_store().path:
            store = get_store()
            mark_interrupted(store)
            _queue = JobQueue(store)
        return _queue


def mark_interrupted(store: RunStore) -> list[str]:
    """Runs recorded active by a process that no longer exists are marked interrupted."""
    stale = []
    for rec in store.list_runs():
        if rec.get("status") in ("queued", "running") and not _alive(rec.get("pid")):
            store.update_run(rec["id"], status="interrupted", finished=time.time(),
                             error="The server stopped while this run was active.")
            EventLog(run_dir(rec["id"]) / "events.jsonl").emit(
                "status", status="interrupted", message="The server stopped while this run was active.")
            stale.append(rec["id"])
    return stale


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
