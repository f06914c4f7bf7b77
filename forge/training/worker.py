"""A run's worker process: ``python -m forge.training.worker RUN_DIR``.

The queue starts one per run (under ``accelerate launch`` for several processes), so training
never happens in the server's interpreter. ``RUN_DIR/job.json`` says what to run; the run
directory (``events.jsonl``, the ``STOP`` file, ``checkpoints/``) is the only channel back.

``python -m forge.training.worker --standby`` is the worker kept ready by a queue: it imports the
training libraries once (several seconds), then reads runs from its standard input, one JSON line
each (the run directory and the worker's environment), and forks a worker for each: a run starts
at once, and the machine does not import the libraries again for every run. Each forked worker
runs in its own session with its output in its run's ``worker.log``; the standby writes its pid
to ``worker.pid`` and, when it ends, its pid and exit status to ``worker.exit`` (the pid tells a
resumed run's worker from the one before it). The standby never runs a tensor operation itself (a
fork after one would leave the child's thread pool broken), and it exits once its input closes
(its server is gone) and its workers have ended. Where a fork is not safe (a GPU driver: see
``forking_is_safe``) the standby is the worker of the first run it reads instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

JOB_FILE = "job.json"


def write_spec(folder: str | Path, spec: dict[str, Any]) -> Path:
    """Write what the worker needs (run id, store, config as the user set it, resume point)."""
    path = Path(folder) / JOB_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(spec, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def read_spec(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / JOB_FILE).read_text(encoding="utf-8"))


def limit_memory(gib: float) -> None:
    """Cap this process's address space (``MODELFORGE_WORKER_MEMORY_GB``): a run that outgrows it
    fails with an out-of-memory message instead of pushing the whole machine into swap."""
    import resource

    limit = int(gib * 1024**3)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run(folder: str | Path) -> str:
    """Run the Job described in ``folder``; returns its final status."""
    import os

    spec = read_spec(folder)
    os.environ["MODELFORGE_HOME"] = spec["home"]  # the same home as the process that queued it
    from ..config import parse_config
    from ..runs import RunStore
    from .job import Job

    if spec.get("memory_limit_gb"):
        limit_memory(float(spec["memory_limit_gb"]))
    config = parse_config(spec["config"])
    job = Job(spec["run_id"], config, RunStore(spec["db_path"]), sandbox=bool(spec.get("sandbox")),
              dataset_name=spec.get("dataset_name"), resume_from=spec.get("resume_from"), folder=folder)
    return job.run()


PID_FILE = "worker.pid"
EXIT_FILE = "worker.exit"


def _write(folder: str | Path, name: str, *numbers: int) -> None:
    path = Path(folder) / name
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_text(" ".join(map(str, numbers)), encoding="ascii")
    tmp.replace(path)


def read_numbers(folder: str | Path, name: str) -> list[int]:
    """What the standby wrote for a run: the worker's pid (``worker.pid``), or its pid and exit
    status (``worker.exit``); empty before it has."""
    try:
        return [int(x) for x in (Path(folder) / name).read_text(encoding="ascii").split()]
    except (OSError, ValueError):
        return []


def _import_training() -> None:
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401 — resolves the lazy modules
    from trl import SFTConfig, SFTTrainer  # noqa: F401

    from . import callback, job  # noqa: F401


class _Forks:
    """The workers a standby forked, by pid, with their run folders."""

    def __init__(self) -> None:
        self.folders: dict[int, str] = {}

    def fork(self, folder: str, env: dict[str, str]) -> None:
        import os
        import signal

        sys.stdout.flush()
        sys.stderr.flush()
        # SIGCHLD waits until the child is in the table, so a worker that ends at once is still reaped
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            os.setsid()
            os._exit(_serve(folder, env))
        self.folders[pid] = folder
        try:
            _write(folder, PID_FILE, pid)
        except OSError:
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})

    def reap(self, *_: Any, block: bool = False) -> None:
        """Record the exit status of each worker that ended (waiting for them all with ``block``)."""
        import os

        while self.folders:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            folder = self.folders.pop(pid, None)
            try:
                if folder is not None:
                    _write(folder, EXIT_FILE, pid, os.waitstatus_to_exitcode(status))
            except OSError:  # the run's folder is gone or its disk full: the queue sees the worker gone
                pass


def forking_is_safe() -> bool:
    """Whether a standby may fork workers: on Linux with no GPU device, unless
    ``MODELFORGE_STANDBY_FORK=0``. A CUDA or ROCm driver that a library touched while importing
    does not survive a fork, so there the standby is the worker of the one run it is given, as a
    new process would be."""
    import glob
    import os
    import platform

    return (os.environ.get("MODELFORGE_STANDBY_FORK", "1").strip() not in ("0", "false", "no")
            and platform.system() == "Linux" and not glob.glob("/dev/nvidia[0-9]*") and not Path("/dev/kfd").exists())


def standby() -> int:
    """Import what training needs, then fork a worker for each run read from standard input (see
    the module's text); returns when the input has closed and every worker ended. Where forking
    is not safe, it runs the first run it reads itself and returns its exit code."""
    import signal

    _import_training()
    if not forking_is_safe():
        line = sys.stdin.readline()
        request = json.loads(line) if line.strip() else None
        return 0 if request is None else _serve(request["folder"], request["env"])
    forks = _Forks()
    signal.signal(signal.SIGCHLD, forks.reap)
    while line := sys.stdin.readline():
        if line.strip():
            request = json.loads(line)
            forks.fork(request["folder"], request["env"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    forks.reap(block=True)  # the server is gone: stay to record how the running workers end
    return 0


def _serve(folder: str, env: dict[str, str]) -> int:
    """Be the run's worker: in the environment the queue gives a worker now, with the output in
    the run's ``worker.log``; returns its exit code."""
    import os
    import traceback

    os.environ.clear()
    os.environ.update(env)
    fd = os.open(os.path.join(folder, "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    try:
        code = main([folder])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 — the worker's end is reported through its exit code
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def main(argv: list[str] | None = None) -> int:
    import logging
    import signal

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--standby"]:
        return standby()
    if len(argv) != 1:
        print("usage: python -m forge.training.worker RUN_DIR | --standby", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    # SIGTERM asks for a graceful stop, as the Stop button does: the run ends at the next step
    from .job import StopFlag

    flag = StopFlag(argv[0])
    signal.signal(signal.SIGTERM, lambda *_: flag.set())
    status = run(argv[0])
    return 0 if status in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
