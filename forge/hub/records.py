"""The run store's fine-tuned models as the Hub sees them: which can be pushed, and what to name them.

A model reference (a model's id, its name or its run's id) means what :mod:`forge.refs` says.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ForgeError
from ..refs import record
from ..runs import RunStore
from .names import repo_slug


def suggest_repo_id(model_id: str, account: str | None) -> str:
    """A repository name for a model: the account (or ``your-name``) and the model's name."""
    try:
        name = record(model_id).get("name") or "model"
    except ForgeError:
        name = "model"
    return f"{account or 'your-name'}/{repo_slug(name)}"


def pushable_models(store: RunStore | None = None) -> list[dict]:
    """The run store's models that can be pushed: ``{id, name, kind, base_model, created, path}``."""
    store = store or RunStore()
    return [{k: m.get(k) for k in ("id", "name", "kind", "base_model", "strategy", "created", "path", "run_id")}
            for m in store.list_models() if Path(m.get("path") or "").is_dir()]
