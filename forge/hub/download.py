"""Downloading base models and datasets from the Hub into this machine's caches."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelNotFoundError
from ..models import human_size
from .client import HubClient, Progress, no_progress
from .failures import hub_errors
from .names import check_hub_id
from .reach import bounded, connect
from .tokens import resolve_token

# The files a model or adapter needs on the Hub (the same families catalog.resolve downloads).
MODEL_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken", "*.gguf", "Modelfile"]


def _start(repo_id: str, what: str, token: str | None, progress: Progress) -> tuple[str, str | None, HubClient]:
    """The checked Hub id of a ``model`` or ``dataset``, the token in use and a client once the Hub answers."""
    rid = check_hub_id(repo_id, what)
    tok = resolve_token(token)
    client = connect(tok)
    progress(0.0, f"checking {rid}")
    return rid, tok, client


def download_model(repo_id: str, *, token: str | None = None, progress: Progress | None = None) -> dict:
    """Download a base model into the local Hub cache, where the Finetune tab finds it."""
    progress = progress or no_progress
    rid, tok, client = _start(repo_id, "model", token, progress)
    with hub_errors(f"Downloading {rid}", tok):
        bounded(lambda: client.repo_check(rid), "checking the model")
        path = Path(client.download(rid, allow_patterns=MODEL_PATTERNS, progress=progress))
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"{rid} was downloaded, but it is not a transformers model (no config.json).",
                                 "Pick a model whose library is transformers (the search lists it).")
    if not any(path.glob("*.safetensors")):
        raise ModelNotFoundError(f"{rid} has no safetensors weights, which ModelForge loads.",
                                 "Pick another model (most current models ship safetensors).")
    progress(1.0, "done")
    size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return {"repo_id": rid, "path": str(path), "size": human_size(size),
            "message": f"{rid} is in the local cache: pick it on the Finetune tab (model {rid})."}


def download_dataset(repo_id: str, *, token: str | None = None, progress: Progress | None = None) -> dict:
    """Download a Hub dataset and prepare it with ``datasets``, so that runs can use it offline."""
    progress = progress or no_progress
    rid, tok, client = _start(repo_id, "dataset", token, progress)
    with hub_errors(f"Downloading dataset {rid}", tok):
        bounded(lambda: client.repo_check(rid, "dataset"), "checking the dataset")
        path = client.download(rid, repo_type="dataset", progress=lambda f, m: progress(0.8 * f, m))
        progress(0.85, "preparing the dataset")
        rows = client.prepare_dataset(rid)
    progress(1.0, "done")
    return {"repo_id": rid, "path": str(path), "rows": rows, "reference": rid,
            "message": f"Dataset {rid} is ready ({rows} rows): give {rid} as the dataset on the Finetune tab."}
