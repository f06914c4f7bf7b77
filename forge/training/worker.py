"""A run's worker process: ``python -m forge.training.worker RUN_DIR``.

The queue starts one per run (under ``accelerate launch`` for several processes), so training
never happens in the server's interpreter. ``RUN_DIR/job.json`` says what to run; the run
directory (``events.jsonl``, the ``STOP`` file, ``checkpoints/``) is the only channel back.

``python -m forge.training.worker --standby`` is a worker started ahead of time: it imports the
training libraries (several seconds), then waits for one line on its standard input naming the
run directory, so a single-process run starts without paying for the imports. It exits when its
input closes (its server is gone) without a run.
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


def standby() -> str | None:
    """Import what training needs, then wait for a run directory on standard input; output goes
    to that run's ``worker.log`` from then on. None when the input closes first."""
    import os

    import datasets  # noqa: F401
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401 — resolves the lazy modules
    from trl import SFTConfig, SFTTrainer  # noqa: F401

    from . import callback, job  # noqa: F401

    folder = sys.stdin.readline().strip()
    if not folder:
        return None
    fd = os.open(os.path.join(folder, "worker.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return folder


def main(argv: list[str] | None = None) -> int:
    import logging
    import signal

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--standby"]:
        folder = standby()
        if folder is None:
            return 0
        argv = [folder]
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
