"""Where ModelForge keeps its files, read from the environment.

``MODELFORGE_HOME``     home folder (default ``./forge_data``; on a Space with persistent
                        storage mounted at ``/data``, ``/data/modelforge``)
``MODELFORGE_DB_PATH``  the run store's TinyDB file (default ``<home>/runs.json``)
``MODELFORGE_ALLOWED_PATHS``  extra folders (``os.pathsep``-separated) that the page and the
                        API may read datasets and models from
``MODELFORGE_WORKER_MEMORY_GB``  cap each training worker's address space (GiB): a run that
                        outgrows it fails with an out-of-memory message instead of swapping
``MODELFORGE_STANDBY_WORKER``  ``0`` turns off the worker kept started ahead of time (it holds
                        the training libraries in memory so the next run starts sooner)
``HF_HUB_OFFLINE``      ``1`` means never touch the network
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in TRUE


@dataclass(frozen=True)
class Settings:
    home: Path
    db_path: Path
    allowed_paths: tuple[Path, ...] = field(default_factory=tuple)
    offline: bool = False
    on_space: bool = False
    space_id: str | None = None

    # the home's folders: runs (one folder a run), models, uploaded datasets, caches
    runs_dir = property(lambda self: self.home / "runs")
    models_dir = property(lambda self: self.home / "models")
    datasets_dir = property(lambda self: self.home / "datasets")
    cache_dir = property(lambda self: self.home / "cache")

    def ensure(self) -> "Settings":
        """Create the home's folders. A home that cannot be created is an error that names it; a
        home that exists but cannot be written still serves reads (listing runs, models)."""
        for d in (self.home, self.runs_dir, self.models_dir, self.datasets_dir, self.cache_dir):
            if d.is_dir():
                continue
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise home_error(self.home, e) from None
        return self


def check_writable(home: Path) -> None:
    """Raise the home's error when a file cannot be written in it (the server writes runs there)."""
    probe = home / f".write-test-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise home_error(home, e) from None


def home_error(home: Path, e: OSError):
    """The error for a home that cannot be written: which folder, why, and how to choose another."""
    from .errors import ForgeError

    return ForgeError(f"The ModelForge home {home} cannot be written ({e.strerror or e}).",
                      "Choose a folder you can write with MODELFORGE_HOME, for example "
                      "MODELFORGE_HOME=~/modelforge python app.py")


def default_home() -> Path:
    if os.environ.get("MODELFORGE_HOME"):
        return Path(os.environ["MODELFORGE_HOME"])
    if os.environ.get("SPACE_ID") and Path("/data").is_dir() and os.access("/data", os.W_OK):
        return Path("/data/modelforge")  # persistent storage on a Hugging Face Space
    return Path("forge_data")


def get_settings() -> Settings:
    """Read the settings from the environment (cheap; read anew on each call)."""
    home = default_home().expanduser().resolve()
    db = os.environ.get("MODELFORGE_DB_PATH")
    allowed = tuple(
        Path(p).expanduser().resolve()
        for p in os.environ.get("MODELFORGE_ALLOWED_PATHS", "").split(os.pathsep)
        if p.strip()
    )
    return Settings(
        home=home,
        db_path=Path(db).expanduser().resolve() if db else home / "runs.json",
        allowed_paths=allowed,
        offline=env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE"),
        on_space=bool(os.environ.get("SPACE_ID")),
        space_id=os.environ.get("SPACE_ID"),
    ).ensure()
