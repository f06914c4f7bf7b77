"""Model references: the one place that says what a model name given by a user stands for.

A reference is, in this order:

* a fine-tuned model of the run store, by its id or its name, or the run that made it, by the run's
  id (a run still queued or running has no model yet: :class:`BusyError`);
* a base model: the embedded default (:data:`EMBEDDED_MODEL`), a folder of the home's ``models/``
  by its bare name, a folder path, or a Hub id (``org/name``).

From the page or the API (``sandbox=True``) a folder must lie in the allowed folders
(:mod:`forge.sandbox`); the CLI, run by the machine's own user, may name any folder. Finding the
files (the embedded model's conversion, a Hub download or the local Hub cache) is
:func:`forge.catalog.resolve`'s job, one level below.

* :func:`find_record` / :func:`record`: the model record a reference names (None / an error when none);
* :func:`base_ref`: a base model reference checked and made canonical, without downloading anything
  (what a run's config holds);
* :func:`resolve_spec`: any reference → a :class:`ModelSpec` (its local folder; for an adapter, its base);
* :func:`base_spec_of`: the base model a fine-tuned model came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import catalog
from .config import EMBEDDED_MODEL
from .errors import BusyError, ConfigError, ForgeError, ModelNotFoundError
from .runs import RunStore, get_store
from .settings import get_settings

UNFINISHED = ("queued", "running", "stopping")  # a run in these states has not saved its model yet
PICK_HINT = "Pick a model from the list, or give a Hub id like HuggingFaceTB/SmolLM2-135M-Instruct."


@dataclass(frozen=True)
class ModelSpec:
    """A model to load: its folder, and for an adapter the base model it goes on."""

    reference: str
    path: Path
    label: str
    is_adapter: bool = False
    base_reference: str | None = None  # the base model (for an adapter: what it loads on; else what it came from)
    model_id: str | None = None  # the run store's model id, for a fine-tuned model
    kind: str = "base"  # base | adapter | full | merged | gguf
    task: str | None = None
    quantized_base: bool = False

    @property
    def key(self) -> str:
        return str(self.path)

    @property
    def fine_tuned(self) -> bool:
        return self.model_id is not None or self.kind != "base"


@dataclass(frozen=True)
class BaseRef:
    """A base model reference, checked: ``reference`` is what a config holds (the embedded default's
    Hub id, an absolute folder, or a Hub id) and ``source`` says which (embedded | folder | hub)."""

    reference: str
    source: str

    @property
    def label(self) -> str:
        if self.source == "embedded":
            return f"{EMBEDDED_MODEL} (embedded default)"
        return Path(self.reference).name if self.source == "folder" else self.reference


# ---- fine-tuned models --------------------------------------------------------------------------

def find_record(ref: str, store: RunStore | None = None) -> dict[str, Any] | None:
    """The model record ``ref`` names (its id, its name, or its run's id), or None. BusyError for a run
    that has not saved its model yet; ModelNotFoundError for a run that saved none."""
    store = store or get_store()
    ref = (ref or "").strip()
    if not ref:
        return None
    models = store.list_models()
    rec = store.get_model(ref) or next((m for m in models if m.get("name") == ref), None)
    if rec is not None:
        return rec
    run = store.get_run(ref)
    if run is None:
        return None
    if run.get("status") in UNFINISHED:
        raise BusyError(f"Run '{ref}' is still {run.get('status')}: its model is not saved yet.",
                        "Use it when the run has ended (or stop it: a stopped run keeps its model).")
    made = [m for m in models if m.get("run_id") == ref]
    # the model the run saved itself, else the newest made from it (a merged copy, a GGUF file...)
    rec = next((m for m in made if m.get("path") == run.get("output_dir")), made[0] if made else None)
    if rec is None:
        raise ModelNotFoundError(f"Run '{ref}' saved no model ({run.get('status')}).",
                                 "Pick one of the models on the Models tab.")
    return rec


def record(ref: str, store: RunStore | None = None) -> dict[str, Any]:
    """The model record ``ref`` names, with its files present; ModelNotFoundError otherwise."""
    rec = find_record(ref, store)
    if rec is None:
        raise ModelNotFoundError(f"There is no fine-tuned model or run '{(ref or '').strip()}'.",
                                 "Pick one of the models your runs produced (the Models tab lists them).")
    _check_files(rec)
    return rec


def _check_files(rec: dict[str, Any]) -> Path:
    path = Path(rec.get("path") or "")
    if not rec.get("path") or not path.is_dir():
        raise ModelNotFoundError(
            f"The files of model '{rec.get('name') or rec['id']}' are missing (expected in {path}).",
            "Delete the model on the Models tab, or train it again.")
    return path


def run_config(folder: Path) -> dict[str, Any]:
    """The ``run_config.yaml`` a model folder was saved with ({} when it has none or it is unreadable)."""
    p = Path(folder) / "run_config.yaml"
    if not p.is_file():
        return {}
    try:
        import yaml

        return yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except Exception:  # a damaged file only loses the extra details
        return {}


def spec_from_record(rec: dict[str, Any]) -> ModelSpec:
    """The ModelSpec of a model record (its files must be present)."""
    path = _check_files(rec)
    adapter = (path / "adapter_config.json").is_file()
    base = rec.get("base_model")
    if adapter and not base:
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    return ModelSpec(rec["id"], path, rec.get("name") or rec["id"], adapter, base, rec["id"],
                     rec.get("kind") or ("adapter" if adapter else "full"), rec.get("task"),
                     bool(rec.get("quantized_base")))


# ---- base models --------------------------------------------------------------------------------

def _bare(ref: str) -> bool:
    """A plain name: no path separator, not relative to here or home."""
    return "/" not in ref and "\\" not in ref and not ref.startswith((".", "~"))


def _folder_of(ref: str) -> Path | None:
    """The folder ``ref`` names (a bare name is a folder of models/ when there is one), None for a Hub id."""
    named = get_settings().models_dir / ref
    if _bare(ref) and named.is_dir():
        return named
    p = Path(ref).expanduser()
    if p.is_absolute() or ref.startswith((".", "~")) or p.exists() or not catalog.HUB_ID.match(ref):
        return p
    return None


def _checked_folder(ref: str, p: Path, sandbox: bool) -> Path:
    if not p.exists() and _bare(ref):
        raise ModelNotFoundError(
            f"There is no model named '{ref}': it is not one of your fine-tuned models, nor a folder in "
            "models/, nor a Hub id (org/name).", PICK_HINT)
    p = p if p.is_absolute() else p.resolve()
    if sandbox:
        from .sandbox import check_path

        p = check_path(p, "model")
    p = p.resolve()
    if not p.is_dir():
        raise ModelNotFoundError(f"The model folder '{ref}' does not exist.", PICK_HINT)
    return p


def base_ref(ref: str, *, sandbox: bool = False) -> BaseRef:
    """A base model reference checked, without downloading: the embedded default, a folder (a bare
    name is a folder of models/; ``sandbox``: it must lie in the allowed folders), or a Hub id."""
    ref = (ref or "").strip()
    if not ref:
        raise ModelNotFoundError("No model was chosen.", "Pick a fine-tuned model, or give a base model "
                                 f"({EMBEDDED_MODEL}, a Hub id or a folder).")
    if catalog.is_embedded(ref):
        return BaseRef(EMBEDDED_MODEL, "embedded")
    folder = _folder_of(ref)
    if folder is None:
        return BaseRef(ref, "hub")
    return BaseRef(str(_checked_folder(ref, folder, sandbox)), "folder")


def base_spec(ref: str, *, sandbox: bool = False) -> ModelSpec:
    """A base model (or an adapter's folder) as a ModelSpec, its files found by :func:`catalog.resolve`
    (downloaded from the Hub when needed)."""
    b = base_ref(ref, sandbox=sandbox)
    r = catalog.resolve(b.reference)
    ref = b.reference if b.source == "embedded" else ref.strip()
    if not r.is_adapter:
        return ModelSpec(ref, r.path, b.label)
    base = r.base_model
    if sandbox and base and Path(base).expanduser().is_absolute():
        from .sandbox import check_path

        base = str(check_path(Path(base), "model"))
    return ModelSpec(ref, r.path, f"{Path(ref).name or ref} (adapter)", True, base, kind="adapter",
                     task=run_config(r.path).get("task"))


def resolve_spec(ref: str, *, sandbox: bool = False, store: RunStore | None = None) -> ModelSpec:
    """Any reference → ModelSpec: a fine-tuned model (by id, name or run id) first, else a base model."""
    rec = find_record(ref, store)
    return spec_from_record(rec) if rec is not None else base_spec(ref, sandbox=sandbox)


def base_spec_of(spec: ModelSpec) -> ModelSpec:
    """The base model a fine-tuned model (or an adapter) goes on or came from."""
    if not spec.base_reference:
        if spec.is_adapter:
            raise ModelNotFoundError(f"The adapter {spec.path} does not say which base model it goes on.",
                                     "Its adapter_config.json needs base_model_name_or_path.")
        raise ConfigError(f"'{spec.label}' is a base model: there is nothing to compare it with.",
                          "Compare needs a fine-tuned model; pick one from the list.")
    try:
        path = catalog.resolve(spec.base_reference).path
    except ForgeError as e:
        raise ModelNotFoundError(f"The base model of '{spec.label}' ({spec.base_reference}) cannot be loaded: "
                                 f"{e.message}", e.hint) from None
    return ModelSpec(spec.base_reference, path, f"{spec.base_reference} (base)")


__all__ = ["BaseRef", "ModelSpec", "base_ref", "base_spec", "base_spec_of", "find_record", "record",
           "resolve_spec", "run_config", "spec_from_record"]
