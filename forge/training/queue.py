"""The queue: one run trains at a time, each in a worker process that this queue supervises.

The queue lives in the run store, so the server and the CLI share it: a run is ``queued`` in the
store until some process's queue claims it (under the store's lock), starts its worker
(``python -m forge.training.worker RUN_DIR``, or under ``accelerate launch``) and watches it.
The worker writes its own events and final status; the supervisor writes them only when the
worker died without a word (killed, crashed, out of memory). Workers run in their own process
group and session, so a server that stops leaves them training; the next server finds them by
pid and run directory, follows them again and can stop them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..config import RunConfig, parse_config
from ..errors import ConfigError, ForgeError
from ..runs import ACTIVE, RunStore, get_store, new_id
from ..settings import get_settings, home_error
from . import checkpoints, launch
from .events import EventLog, read_all
from .job import StopFlag, run_dir
from .worker import EXIT_FILE, PID_FILE, forking_is_safe, read_numbers, write_spec

POLL = 0.3  # seconds between looks at the workers and the store
FULL_LOOK = 5.0  # seconds between looks at every run, changed or not (a supervisor elsewhere may have died)
RESUMABLE = ("stopped", "failed", "interrupted", "completed")
# settings a resumed run may change; the rest must stay as trained (another model or data cannot continue)
RESUME_SETTINGS = ("max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps", "eval_steps")


class JobQueue:
    def __init__(self, store: RunStore | None = None, *, standby: bool | None = None):
        self.store = store or get_store()
        self._procs: dict[str, subprocess.Popen | Forked] = {}  # runs this process started
        self._adopted: dict[str, int] = {}  # live workers started by a process that is gone
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stamp: tuple | None = None
        self._standby: subprocess.Popen | None = None  # forks the single-process workers
        self._standby_env: dict[str, str] | None = None
        self._closed = False
        self._last_full = 0.0
        self.use_standby = (os.environ.get("MODELFORGE_STANDBY_WORKER", "1").strip() not in ("0", "false", "no")
                            if standby is None else standby)
        self.reconciled = reconcile(self.store)

    # ---- submitting ----------------------------------------------------------------------
    def submit(self, config: RunConfig | dict, *, sandbox: bool = False, dataset_name: str | None = None,
               launch_options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check and queue a run; returns its record (``status: queued``). Everything that can be
        checked without loading the model is checked here, before any record exists."""
        from ..strategies import get_strategy

        config = parse_config(config)
        get_strategy(config.strategy)
        plan = launch.resolve(config, launch_options)
        run_id = new_id()
        folder = run_dir(run_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise home_error(get_settings().home, e) from None
        # the event goes first: a queue may claim the run the moment its record exists
        self._announce(folder / "events.jsonl", "Queued", len(self.active_ids()))
        rec = self.store.create_run({
            "id": run_id, "name": config.run_name or f"{config.strategy}-{run_id}", "config": config.to_dict(),
            "config_set": sorted(config.user_fields()), "base_model": config.model_name, "strategy": config.strategy,
            "task": config.task, "dataset": dataset_name or config.dataset, "queued_at": time.time(),
            "launch": plan, "sandbox": sandbox, "dataset_name": dataset_name,
            "run_dir": str(folder), "events_path": str(folder / "events.jsonl"),
        })
        self.kick()
        return rec

    def resume(self, run_id: str, **changes: Any) -> dict[str, Any]:
        """Queue a stopped, failed, interrupted or finished run again from its last whole checkpoint
        (the Trainer restores the optimizer, scheduler and random state); ``changes`` may raise
        ``max_steps`` or ``num_train_epochs`` to train a finished run further."""
        rec = self.store.get_run((run_id or "").strip())
        if rec is None:
            raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs.")
        folder = Path(rec.get("run_dir") or run_dir(rec["id"]))
        point = _check_resume(rec, folder, changes)
        config = _resumed_config(rec, changes)
        step = int(point.name.split("-")[-1])
        if config.max_steps not in (None, -1) and config.max_steps <= step:
            raise ConfigError(f"max_steps: the run already trained {step} steps; give more than {step} to "
                              "train further.", f"Set max_steps to at least {step + 1}.")
        checkpoints.remove_partial(folder / "checkpoints")
        self._announce(Path(rec["events_path"]), f"Resuming from {point.name}", len(self.active_ids()),
                       resume_step=step)
        updated = self.store.claim_for_resume(rec["id"], RESUMABLE, {
            "status": "queued", "config": config.to_dict(), "config_set": sorted(config.user_fields()),
            "queued_at": time.time(), "finished": None, "error": None, "resume_from": str(point),
            "resumes": int(rec.get("resumes") or 0) + 1})
        if updated is None:
            raise ForgeError(f"Run '{rec['name']}' is already queued or training again.",
                             "Follow it on the Finetune tab, or stop it first.")
        self.kick()
        return updated

    @staticmethod
    def _announce(events_path: Path, what: str, pos: int, **extra: Any) -> None:
        EventLog(events_path).emit(
            "status", status="queued", **extra,
            message=f"{what}: starts now." if pos == 0 else f"{what}: {pos} run(s) ahead of this one.")

    # ---- the supervising thread ----------------------------------------------------------
    def kick(self) -> None:
        """Make sure this process watches the queue, and look at it now."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="forge-queue", daemon=True)
                self._thread.start()
            self._stamp = None
            self._cond.notify_all()

    def _loop(self) -> None:
        while not self._closed:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 — the supervisor must outlive any one bad look
                import logging

                logging.getLogger(__name__).exception("queue supervisor")
            with self._cond:
                self._cond.wait(POLL)

    def tick(self) -> None:
        """One look: reap workers that ended, adopt orphans, start the next queued run."""
        ended = self._reap()
        stamp = self.store.stamp()
        now = time.monotonic()
        if not ended and stamp == self._stamp and now - self._last_full < FULL_LOOK:
            return
        self._stamp, self._last_full = stamp, now
        for rec in self.store.list_runs():
            if rec.get("status") == "running" and rec["id"] not in self._procs and rec["id"] not in self._adopted:
                if worker_alive(rec):
                    if not _alive(rec.get("supervisor_pid")) and rec.get("pid"):
                        self._adopted[rec["id"]] = rec["pid"]
                elif not _alive(rec.get("supervisor_pid")) or rec.get("supervisor_pid") == os.getpid():
                    finalize(self.store, rec, None)
        claimed = self.store.claim_next(os.getpid(), worker_alive)
        if claimed:
            try:
                self._start(claimed)
            except Exception as e:  # noqa: BLE001 — a run that cannot start must not hold the queue
                finalize(self.store, self.store.get_run(claimed["id"]) or claimed, None,
                         why=f"Its worker process could not start ({type(e).__name__}: {e}).")
            self._stamp = None
        else:
            self._prepare_standby()  # the next run starts without paying for the imports

    def _prepare_standby(self) -> None:
        if not self.use_standby or (self._standby is not None and self._standby.poll() is None):
            return
        root, env = _worker_env()
        try:
            self._standby = subprocess.Popen([sys.executable, "-m", "forge.training.worker", "--standby"],
                                             cwd=str(root), env=env, stdin=subprocess.PIPE,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)
            self._standby_env = env
        except OSError:
            self._standby = None

    @property
    def standby_pid(self) -> int | None:
        """The pid of the process that forks this queue's workers, while it runs."""
        proc = self._standby
        return proc.pid if proc is not None and proc.poll() is None else None

    def _take_standby(self, folder: Path, env: dict[str, str]) -> Forked | subprocess.Popen | None:
        """The run's worker, forked by the standby process (in the environment a worker gets now),
        or the standby itself where forking is not safe (the next one starts when the queue is
        idle); None when there is none ready, or it imported its libraries under another
        environment (that one retires)."""
        proc = self._standby
        if proc is None or proc.poll() is not None or _imported_env(env) != _imported_env(self._standby_env):
            self._retire_standby()
            return None
        forks = forking_is_safe()
        try:
            proc.stdin.write(json.dumps({"folder": str(folder), "env": env}).encode() + b"\n")
            proc.stdin.flush()
            if not forks:
                self._standby = None
                proc.stdin.close()
        except OSError:
            self._retire_standby()
            return None
        return Forked(proc, folder) if forks else proc

    def _retire_standby(self) -> None:
        """Let the standby go: it ends now when it has no worker running, else once they have ended
        (it records how they end)."""
        proc, self._standby = self._standby, None
        if proc is None or proc.poll() is not None:
            return
        if any(isinstance(p, Forked) and p.standby is proc for p in self._procs.values()):
            try:
                proc.stdin.close()
            except OSError:
                pass
        else:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop watching the queue and let the standby go (runs in training go on; the next queue
        to start finds them)."""
        self._closed = True
        self._retire_standby()

    def _reap(self) -> bool:
        ended = False
        for run_id, proc in list(self._procs.items()):
            if isinstance(proc, Forked) and not proc.recorded and proc.pid:
                proc.recorded = True
                self.store.update_run(run_id, pid=proc.pid)
            code = proc.poll()
            if code is not None:
                del self._procs[run_id]
                rec = self.store.get_run(run_id)
                if rec:
                    finalize(self.store, rec, code)
                ended = True
        for run_id in list(self._adopted):
            rec = self.store.get_run(run_id)
            if rec is None or not worker_alive(rec):
                del self._adopted[run_id]
                if rec:
                    finalize(self.store, rec, None)
                ended = True
        return ended

    def _start(self, rec: dict[str, Any]) -> None:
        folder = Path(rec["run_dir"])
        StopFlag(folder).clear()
        set_fields = set(rec.get("config_set") or [])
        config = {k: v for k, v in (rec.get("config") or {}).items() if k in set_fields}
        write_spec(folder, {"run_id": rec["id"], "home": str(get_settings().home), "db_path": str(self.store.path),
                            "config": config, "sandbox": bool(rec.get("sandbox")),
                            "dataset_name": rec.get("dataset_name"), "resume_from": rec.get("resume_from"),
                            "memory_limit_gb": os.environ.get("MODELFORGE_WORKER_MEMORY_GB") or None})
        cmd = launch.command(folder, rec.get("launch"))
        root, env = _worker_env()
        for name in (PID_FILE, EXIT_FILE):  # an earlier attempt's (a resumed run)
            (folder / name).unlink(missing_ok=True)
        try:
            proc = None if launch.distributed(rec.get("launch")) else self._take_standby(folder, env)
            if proc is None:
                with open(folder / "worker.log", "ab") as out:
                    proc = subprocess.Popen(cmd, cwd=str(root), env=env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            self.store.update_run(rec["id"], pid=None)
            finalize(self.store, self.store.get_run(rec["id"]) or rec, None,
                     why=f"Its worker process could not start: {e}.")
            return
        self._procs[rec["id"]] = proc
        self.store.update_run(rec["id"], pid=proc.pid, command=cmd)
        if launch.distributed(rec.get("launch")):
            EventLog(rec["events_path"]).emit("log", level="info",
                                              message=f"Launching {launch.describe(rec.get('launch'))} "
                                                      "with accelerate launch.")

    def supervising(self) -> list[str]:
        """The runs whose worker this process started and has not yet seen end."""
        return list(self._procs)

    # ---- looking and stopping ------------------------------------------------------------
    def active_ids(self) -> list[str]:
        """The run training now (first), then the queued ones in order: across every process."""
        runs = [r for r in self.store.list_runs() if r.get("status") in ACTIVE]
        runs.sort(key=lambda r: (r["status"] != "running", r.get("queued_at") or r.get("created") or 0))
        return [r["id"] for r in runs]

    def position(self, run_id: str) -> int | None:
        """0 while running (or next), n when n runs are ahead of it, None when not in the queue."""
        ids = self.active_ids()
        return ids.index(run_id) if run_id in ids else None

    @property
    def current(self) -> str | None:
        ids = self.active_ids()
        rec = self.store.get_run(ids[0]) if ids else None
        return rec["id"] if rec and rec.get("status") == "running" else None

    def stop(self, run_id: str, now: bool = False) -> str:
        """Stop a run: cancel it while queued; end it at the next step while training; end its
        processes at once on a second Stop (or ``now``). Returns what was done."""
        rec = self.store.get_run((run_id or "").strip())
        if rec is None:
            raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs.")
        if rec["status"] == "queued":
            done = self.store.claim_for_resume(rec["id"], ("queued",), {"status": "stopped", "finished": time.time()})
            if done is not None:
                events = EventLog(rec["events_path"])
                events.emit("status", status="stopped", message="Cancelled before it started.")
                events.emit("result", status="stopped", metrics={}, output_dir=None, error=None)
                return "cancelled"
            rec = self.store.get_run(rec["id"]) or rec
        if rec["status"] != "running":
            return f"not active (status: {rec['status']})"
        flag = StopFlag(rec["run_dir"])
        if now or flag.is_set():
            flag.set()
            kill_group(rec)
            EventLog(rec["events_path"]).emit("log", level="warning",
                                              message="Stop now: the run's processes were ended.")
            self.kick()
            return "killed"
        flag.set()
        EventLog(rec["events_path"]).emit("log", level="info",
                                          message="Stop requested: the run ends after the current step "
                                                  "(press Stop again to end it at once).")
        return "stopping"

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the run has ended; returns its record."""
        deadline = None if timeout is None else time.time() + timeout
        self.kick()
        while True:
            rec = self.store.get_run(run_id)
            if rec is None:
                raise ForgeError(f"There is no run '{run_id}'.", "Pick a run from the list of runs.")
            if rec["status"] not in ACTIVE:
                return rec
            if deadline and time.time() > deadline:
                return rec
            time.sleep(0.2)


class Forked:
    """A run's worker forked by the standby process; the queue watches it as it does a Popen
    (``pid``, ``poll``), its pid and exit status read from the run folder (see ``worker``)."""

    GRACE = 10.0  # seconds a worker may be gone before the standby has written how it ended

    def __init__(self, standby: subprocess.Popen, folder: Path):
        self.standby, self.folder = standby, folder
        self.recorded = False  # its pid is in the run's record
        self._pid: int | None = None
        self._gone_since: float | None = None

    @property
    def pid(self) -> int | None:
        """None until the standby has forked it."""
        if self._pid is None:
            pid = read_numbers(self.folder, PID_FILE)
            self._pid = pid[0] if len(pid) == 1 else None
        return self._pid

    def poll(self) -> int | None:
        """Its exit status; None while it runs (or waits to be forked)."""
        pid = self.pid
        ended = read_numbers(self.folder, EXIT_FILE)
        if pid is not None and len(ended) == 2 and ended[0] == pid:
            return ended[1]
        standby_alive = self.standby.poll() is None
        if (pid is None and standby_alive) or (pid is not None and _alive(pid)):
            return None
        now = time.monotonic()
        self._gone_since = self._gone_since or now
        if standby_alive and now - self._gone_since < self.GRACE:
            return None
        return 1  # how it ended was not recorded: its worker.log says what it printed last


# set by the test runner for each test: no library reads it, so a standby started under another
# value still imports as a new one would
_NOT_IMPORTED = ("PYTEST_CURRENT_TEST",)


def _imported_env(env: dict[str, str] | None) -> dict[str, str] | None:
    return None if env is None else {k: v for k, v in env.items() if k not in _NOT_IMPORTED}


def _worker_env() -> tuple[Path, dict[str, str]]:
    """The folder a worker starts in and its environment: this process's, with the same home and
    this package importable."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MODELFORGE_HOME": str(get_settings().home), "PYTHONUNBUFFERED": "1"}
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    return root, env


def _check_resume(rec: dict[str, Any], folder: Path, changes: dict[str, Any]) -> Path:
    """The checkpoint a run resumes from; ForgeError naming the way out when it cannot."""
    status = rec.get("status")
    if status in ACTIVE:
        raise ForgeError(f"Run '{rec.get('name')}' is {status}: it cannot be resumed while it is active.",
                         "Wait for it to end, or stop it first.")
    bad = sorted(set(changes) - set(RESUME_SETTINGS))
    if bad:
        raise ConfigError(f"{bad[0]}: a resumed run keeps its model, data and strategy; only "
                          f"{', '.join(RESUME_SETTINGS)} can change.",
                          "To train with other settings, start a new run ('Use this config again').")
    point = checkpoints.latest(folder / "checkpoints")
    if point is None:
        raise ForgeError(f"Run '{rec.get('name')}' has no whole checkpoint to resume from.",
                         "Start it again with the same settings ('Use this config again'); lower save_steps "
                         "to checkpoint more often.")
    if status == "completed" and not any(v is not None for v in changes.values()):
        raise ConfigError("max_steps: this run has finished; give a larger max_steps (or num_train_epochs) "
                          "to train it further.", "For example max_steps = twice the steps it ran.")
    return point


def _resumed_config(rec: dict[str, Any], changes: dict[str, Any]) -> RunConfig:
    set_fields = set(rec.get("config_set") or [])
    data = {k: v for k, v in (rec.get("config") or {}).items() if k in set_fields}
    for k, v in changes.items():
        if v is not None:
            data[k] = v
    if changes.get("num_train_epochs") is not None and changes.get("max_steps") is None:
        data["max_steps"] = -1
    return parse_config(data)


# ---- the truth about a run's processes ------------------------------------------------------

def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _state(pid) != "Z"


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def worker_alive(rec: dict[str, Any]) -> bool:
    """Whether the run's worker still runs: its pid is alive and is the worker of this run (not a
    reused pid); a run claimed but not yet started counts while its supervisor lives."""
    pids = [p for p in (rec.get("pid"), rec.get("worker_pid")) if p]
    if not pids:
        return _alive(rec.get("supervisor_pid"))
    return any(_is_worker(p, rec) for p in pids)


def _is_worker(pid: int, rec: dict[str, Any]) -> bool:
    if not _alive(pid):
        return False
    cmd = _cmdline(pid)
    # a worker names its run folder, or was started in standby before it got one
    return cmd is None or "forge.training.worker" in cmd and (str(rec.get("run_dir") or rec["id"]) in cmd
                                                              or "--standby" in cmd)


def kill_group(rec: dict[str, Any]) -> None:
    """End the run's processes at once (the launcher and every rank: they share a process group)."""
    for pid in (rec.get("pid"), rec.get("worker_pid")):
        if pid and _is_worker(pid, rec):
            try:
                group = os.getpgid(pid)
                if group == os.getpgid(0):  # never this process's own group
                    os.kill(pid, signal.SIGKILL)
                else:
                    os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _signal_text(code: int) -> str:
    sig = -code
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig == signal.SIGKILL:
        return (f"Its training process was killed ({name}): by the system's out-of-memory killer when the "
                "machine ran out of memory, or by hand. If memory ran out, lower the batch size or the "
                "sequence length, or use LoRA / 4-bit quantization.")
    if sig == signal.SIGSEGV:
        return f"Its training process crashed ({name}, a fault in native code such as a GPU kernel)."
    return f"Its training process was ended by {name}."


def finalize(store: RunStore, rec: dict[str, Any], code: int | None, why: str | None = None) -> str:
    """Record the end of a run whose worker has exited. The worker's own result wins; otherwise
    the cause is named (stopped, killed by a signal, crashed, cut off) with the last good checkpoint."""
    folder = Path(rec.get("run_dir") or run_dir(rec["id"]))
    result = final_result(folder / "events.jsonl")
    if result is not None:
        if rec.get("status") in ACTIVE:
            store.update_run(rec["id"], status=result.get("status"), error=result.get("error"),
                             finished=rec.get("finished") or time.time())
        return result.get("status")
    checkpoints.remove_partial(folder / "checkpoints")  # cut off with the worker; frees a full disk
    last = checkpoints.last_good_text(folder / "checkpoints")
    if StopFlag(folder).is_set():
        status, message = "stopped", "Run stopped at once: its processes were ended. " + last
    elif why:
        status, message = "failed", f"{why} {last}"
    elif code is None:
        status, message = "interrupted", ("Its worker process ended while no server was watching it (the "
                                          "server or the machine was restarted). " + last)
    elif code < 0:
        status, message = "failed", f"{_signal_text(code)} {last}"
    elif code == 0 and int((rec.get("launch") or {}).get("machine_rank") or 0) > 0:
        status, message = "completed", "This machine's share of the run ended; machine 0 saves and records the model."
    else:
        cause = _last_error(folder / "worker.log")
        status, message = "failed", (f"Its training process exited with code {code} before it finished"
                                     + (f": {cause}" if cause else "")
                                     + f" (its output is in {folder / 'worker.log'}). {last}")
    try:  # the log first: whoever sees the record's end finds its result event already written
        events = EventLog(folder / "events.jsonl")
        events.emit("status", status=status, message=message)
        events.emit("result", status=status, metrics={}, output_dir=None,
                    error=None if status in ("stopped", "completed") else message)
    except OSError:  # a full disk: the store below still holds the truth
        pass
    store.update_run(rec["id"], status=status, error=None if status in ("stopped", "completed") else message,
                     finished=time.time())
    return status


def _last_error(log_path: Path) -> str | None:
    """The last exception line a worker printed (``OSError: [Errno 28] No space left on device``)."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        head = line.split(":", 1)[0].strip()
        if head and " " not in head and (head.endswith(("Error", "Exception")) or head == "KeyboardInterrupt"):
            return line.strip()[:300]
    return None


def final_result(events_path: str | Path) -> dict[str, Any] | None:
    """The run's last ``result`` event, unless a later ``status`` event re-queued it (a resume)."""
    result = None
    for ev in read_all(events_path):
        if ev.get("kind") == "result":
            result = ev
        elif ev.get("kind") == "status" and ev.get("status") in ACTIVE:
            result = None
    return result


def reconcile(store: RunStore) -> dict[str, Any]:
    """Make the store tell the truth after a restart: a live worker stays ``running``; a run whose
    log ends with a result takes that status; a dead one becomes ``interrupted``; models and
    checkpoints cut off mid-write are removed (their space reported); stale temporary files go."""
    report: dict[str, Any] = {"interrupted": [], "recovered": [], "removed": [], "freed_bytes": 0}
    for rec in store.list_runs():
        folder = Path(rec.get("run_dir") or run_dir(rec["id"]))
        cut = [p for _s, p, ok in checkpoints.all_checkpoints(folder / "checkpoints") if not ok]
        if (rec.get("status") == "running" and not worker_alive(rec)
                and not (_alive(rec.get("supervisor_pid")) and rec.get("supervisor_pid") != os.getpid())):
            status = finalize(store, rec, None)
            report["interrupted" if status == "interrupted" else "recovered"].append(rec["id"])
        if rec.get("status") in ACTIVE and worker_alive(rec):
            continue
        partial = folder / "model.partial"
        if partial.exists():
            report["freed_bytes"] += checkpoints.folder_size(partial)
            report["removed"].append(str(partial))
            shutil.rmtree(partial, ignore_errors=True)
        report["freed_bytes"] += sum(checkpoints.folder_size(p) for p in cut)
        checkpoints.remove_partial(folder / "checkpoints")
        report["removed"] += [str(p) for p in cut]
    report["removed"] += store.remove_stale_temp_files()
    for tmp in get_settings().cache_dir.glob("*/*.tmp[0-9]*"):  # a conversion cut off (the embedded model)
        pid = tmp.name.rsplit(".tmp", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)) and tmp.is_dir():
            report["freed_bytes"] += checkpoints.folder_size(tmp)
            report["removed"].append(str(tmp))
            shutil.rmtree(tmp, ignore_errors=True)
    return report


_queue: JobQueue | None = None
_queue_lock = threading.Lock()


def get_queue() -> JobQueue:
    """The process's queue: on first use it reconciles the store and starts watching the queue."""
    global _queue
    with _queue_lock:
        if _queue is None or _queue.store.path != get_store().path:
            if _queue is not None:
                _queue.close()
            _queue = JobQueue(get_store())
            _queue.kick()
        return _queue
