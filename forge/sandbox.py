"""Which files the page and the API may read.

A dataset or model path coming from the page or the API is accepted only inside the home's
``datasets/`` and ``models/`` folders, the run folders, the embedded model's cache, and the
folders listed in ``MODELFORGE_ALLOWED_PATHS``. Symbolic links are resolved first, so a link
pointing out of those folders is refused too. The CLI, run by the machine's own user, is not
sandboxed.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SandboxError
from .settings import Settings, get_settings


def allowed_roots(settings: Settings | None = None) -> list[Path]:
    s = settings or get_settings()
    return [s.datasets_dir, s.models_dir, s.runs_dir, s.cache_dir / "embedded", *s.allowed_paths]


def is_allowed(path: str | Path, settings: Settings | None = None) -> bool:
    real = Path(path).expanduser().resolve()
    return any(real == root.resolve() or real.is_relative_to(root.resolve()) for root in allowed_roots(settings))


def check_path(path: str | Path, what: str = "file", settings: Settings | None = None) -> Path:
    """The resolved path when it lies inside an allowed folder; SandboxError otherwise."""
    s = settings or get_settings()
    p = Path(path).expanduser()
    if not p.is_absolute():
        # relative paths are read from the home's datasets folder (what an upload produces)
        p = s.datasets_dir / p
    if not is_allowed(p, s):
        where = (f"Put the model folder in {s.models_dir}" if what == "model"
                 else f"Upload the {what} on the page (or through /upload_dataset)")
        raise SandboxError(
            f"The {what} path '{path}' is outside the folders this server may read.",
            f"{where}, or ask the server's owner to add its folder to MODELFORGE_ALLOWED_PATHS.",
        )
    return p.resolve()
