"""Pushing a fine-tuned model to the Hub: its files, a model card and the loss curve, in one commit."""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

from ..errors import HubError, ModelNotFoundError
from ..export import merge
from ..refs import record
from ..runs import RunStore
from .account import Destination, destination
from .card import build_card
from .client import CALL_TIMEOUT, HubClient, Progress, no_progress
from .curves import loss_curve_png
from .download import MODEL_PATTERNS
from .failures import hub_errors
from .names import check_repo_id, repo_id_problem, repo_slug
from .provenance import base_hub_id, base_license
from .reach import bounded

# run leftovers and files naming this machine's folders stay here
SKIP_FILES = {"README.md", "EMBEDDED.json", "MERGED.json", "run_config.yaml", "training_args.bin",
              "trainer_state.json"}
KINDS = ("adapter", "merged")


def push_model(model_id: str, repo_id: str, *, kind: str = "adapter", private: bool = True, overwrite: bool = False,
               token: str | None = None, progress: Progress | None = None, store=None) -> dict:
    """Push a fine-tuned model with its model card and loss curve.

    ``kind``: ``adapter`` (the LoRA adapter alone) or ``merged`` (adapter merged into its base;
    a fully fine-tuned model is pushed whole either way). Returns ``{status: pushed, url,
    repo_id, files, commit_url, private}``; when the repository exists and ``overwrite`` is
    false, nothing is uploaded and the answer is ``{status: needs_confirmation, ...}``.
    """
    progress = progress or no_progress
    repo_id = check_repo_id(repo_id)
    if kind not in KINDS:
        raise HubError(f"Unknown kind '{kind}'.", "Push 'adapter' (the LoRA weights) or 'merged' (a full model).")
    store = store or RunStore()
    model = record(model_id, store)
    progress(0.0, "checking the token")
    dest = destination(repo_id, token, "Pushing a model")
    if dest.exists and not overwrite:
        return {"status": "needs_confirmation", "repo_id": repo_id, "url": dest.url, "files": [],
                "message": f"{repo_id} already exists on the Hub. Pushing replaces its files; confirm to overwrite."}
    if model.get("kind") == "adapter" and kind == "merged":
        model = merged_copy(model, store, progress)
    pushed_kind = {"adapter": "adapter", "merged": "merged", "gguf": "gguf"}.get(model.get("kind"), "full")
    run = store.get_run(model.get("run_id")) if model.get("run_id") else None
    with tempfile.TemporaryDirectory(prefix="forge-push-") as tmp:
        files = _files_to_push(model, run, dest, pushed_kind, Path(tmp), progress)
        commit_url = _upload(dest, files, f"Upload {pushed_kind} {model.get('name')} with ModelForge", private,
                             progress)
    _remember(store, model, dest)
    progress(1.0, "done")
    return {"status": "pushed", "repo_id": repo_id, "url": dest.url, "commit_url": commit_url, "kind": pushed_kind,
            "files": sorted(files), "private": bool(private) if not dest.exists else None,
            "message": f"Pushed {pushed_kind} '{model.get('name')}' to {dest.url}"
                       + ("" if not dest.exists else " (the repository's visibility is unchanged).")}


def merged_copy(model: dict, store: RunStore, progress: Progress) -> dict:
    """The merged copy of an adapter: the newest one recorded, else a new one (``forge.export.merge``)."""
    merged = [m for m in store.list_models() if m.get("kind") == "merged" and Path(m.get("path") or "").is_dir()
              and (m.get("source_model") == model["id"]
                   or (not m.get("source_model") and m.get("run_id") and m.get("run_id") == model.get("run_id")))]
    if merged:
        return merged[0]
    progress(0.02, "merging the adapter into its base (once; the merged model is kept)")
    made = merge(model["id"], progress=lambda f, m: progress(0.02 + 0.08 * f, f"merging: {m}"), store=store)
    return store.get_model(made["id"])


def model_files(folder: Path) -> dict[str, Path]:
    """The files of a saved model or adapter folder that belong on the Hub (no run leftovers)."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name not in SKIP_FILES and any(p.match(pat) for pat in MODEL_PATTERNS):
            out[p.name] = p
    return out


def _files_to_push(model: dict, run: dict | None, dest: Destination, kind: str, tmp_dir: Path,
                   progress: Progress) -> dict[str, Path]:
    """The model's files, its card and loss curve (written in ``tmp_dir``), and for an adapter a config
    naming its base by Hub id: path in the repository -> local file."""
    folder = Path(model["path"])
    files = model_files(folder)
    if not any(k.endswith((".safetensors", ".gguf")) for k in files):
        raise ModelNotFoundError(f"The folder of '{model.get('name')}' holds no weights (.safetensors): {folder}",
                                 "Train the model again, or pick another.")
    base = model.get("base_model") or (run or {}).get("base_model")
    progress(0.1, "writing the model card")
    image = loss_curve_png((run or {}).get("events_path"), tmp_dir / "loss_curve.png")
    card = build_card(model, run, dest.repo_id, kind=kind, license=base_license(base, dest.client),
                      image="loss_curve.png" if image else None)
    (tmp_dir / "README.md").write_text(str(card), encoding="utf-8")
    files["README.md"] = tmp_dir / "README.md"
    if image:
        files["loss_curve.png"] = image
    if kind == "adapter" and "adapter_config.json" in files and base_hub_id(base):
        cfg = json.loads(files["adapter_config.json"].read_text(encoding="utf-8"))
        cfg["base_model_name_or_path"] = base_hub_id(base)  # a Hub id, not this machine's folder
        (tmp_dir / "adapter_config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        files["adapter_config.json"] = tmp_dir / "adapter_config.json"
    return files


def _upload(dest: Destination, files: dict[str, Path], message: str, private: bool, progress: Progress) -> str:
    """Create the repository if needed and upload ``files`` in one commit; the commit's URL."""
    client: HubClient = dest.client
    with hub_errors(f"Creating {dest.repo_id}", dest.token):
        bounded(lambda: client.create_repo(dest.repo_id, private=private, exist_ok=True), "creating the repository",
                CALL_TIMEOUT * 2)
    with hub_errors(f"Uploading to {dest.repo_id}", dest.token):
        return client.upload_files(dest.repo_id, files, commit_message=message, delete_others=dest.exists,
                                   progress=lambda f, m: progress(0.15 + 0.85 * f, m))


def _remember(store: RunStore, model: dict, dest: Destination) -> None:
    """Note on the model's record where it was pushed (never the token)."""
    with contextlib.suppress(Exception):
        pushes = list(model.get("hub_pushes") or []) + [{"repo_id": dest.repo_id, "url": dest.url,
                                                         "time": time.time()}]
        store.update_model(model["id"], hub_pushes=pushes)


def card_preview(model_id: str, repo_id: str | None = None, kind: str = "adapter", store=None) -> str:
    """The card a push would write (no network: the licence comes from local copies only)."""
    store = store or RunStore()
    model = record(model_id, store)
    run = store.get_run(model.get("run_id")) if model.get("run_id") else None
    rid = repo_id if repo_id and not repo_id_problem(repo_id) else f"your-name/{repo_slug(model.get('name') or 'model')}"
    return str(build_card(model, run, rid, kind=_shown_kind(model.get("kind"), kind),
                          license=base_license(model.get("base_model")), image="loss_curve.png"))


def _shown_kind(model_kind: str | None, asked: str) -> str:
    """What a push of a ``model_kind`` model as ``asked`` uploads: adapter, merged, gguf or full."""
    if model_kind == "adapter" and asked == "adapter":
        return "adapter"
    if model_kind in ("adapter", "merged"):
        return "merged"
    return "gguf" if model_kind == "gguf" else "full"
