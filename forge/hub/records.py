"""The run store's fine-tuned models as the Hub sees them: which can be pushed, and what to name them."""

from __future__ import annotations

from pathlib import Path

from ..errors import ForgeError, ModelNotFoundError
from ..runs import RunStore
from .names import repo_slug


def model_record(model_id: str, store: RunStore | None = None) -> dict:
    """The stored model ``model_id`` (its id, name or run id) whose files are present."""
    store = store or RunStore()
    ref = (model_id or "").strip()
    rec = store.get_model(ref) if ref else None
    if rec is None and ref:  # also accept a model's name or its run's id
        rec = next((m for m in store.list_models() if ref in (m.get("name"), m.get("run_id"))), None)
    if rec is None:
        raise ModelNotFoundError(f"There is no fine-tuned model '{model_id}'.",
                                 "Pick one of the models your runs produced (the list on the Hub tab).")
    if not Path(rec.get("path") or "").is_dir():
        raise ModelNotFoundError(f"The files of model '{rec.get('name')}' are missing ({rec.get('path')}).",
                                 "It may have been deleted; train it again, or pick another model.")
    return rec


def suggest_repo_id(model_id: str, account: str | None) -> str:
    """A repository name for a model: the account (or ``your-name``) and the model's name."""
    try:
        name = model_record(model_id).get("name") or "model"
    except ForgeError:
        name = "model"
    return f"{account or 'your-name'}/{repo_slug(name)}"


def pushable_models(store: RunStore | None = None) -> list[dict]:
    """The run store's models that can be pushed: ``{id, name, kind, base_model, created, path}``."""
    store = store or RunStore()
    return [{k: m.get(k) for k in ("id", "name", "kind", "base_model", "strategy", "created", "path", "run_id")}
            for m in store.list_models() if Path(m.get("path") or "").is_dir()]
