"""The one object that talks to the Hub: :class:`HubClient`, one method per Hub call.

A thin wrapper around ``huggingface_hub.HfApi``; the rest of ModelForge goes through it, never
through ``huggingface_hub``'s network functions, and tests replace it (``client_for``'s
``HubClient``) with a fake that records calls. The token is kept on the instance (memory only)
and passed explicitly as ``token=`` (never ``login()``, so nothing is saved to disk).
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..models import human_size
from .rows import dataset_row, license_from_tags, model_row

Progress = Callable[[float, str], None]
PROBE_TIMEOUT = 1.5  # seconds for the socket probe of the Hub
CALL_TIMEOUT = 3.0  # seconds for one metadata call (whoami, search, repo checks)
_LARGE = 10 * 2**20  # files from this size on are uploaded one by one, so that progress moves


def no_progress(_fraction: float, _message: str) -> None:
    """A progress callback that shows nothing."""


def _tqdm_reporter(progress: Progress, label: str):
    """A tqdm class that reports byte progress of huggingface_hub's bars to ``progress``."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    state = {"last": 0.0}
    lock = threading.Lock()

    class Reporter(hf_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = io.StringIO()  # the page shows the progress; nothing on the console
            super().__init__(*args, **kwargs)
            self._done = 0.0

        def update(self, n: float | None = 1):
            self._done += n or 0
            if self.unit == "B" and self.total:
                frac = min(1.0, self._done / self.total)
                with lock:
                    now = time.time()
                    if frac >= 1.0 or now - state["last"] > 0.25:
                        state["last"] = now
                        progress(frac, f"{label}: {human_size(self._done)} of {human_size(self.total)}")
            return super().update(n)

    return Reporter


class HubClient:
    """One method per Hub call. The token is kept on the instance (memory only) and passed
    explicitly; ``None`` means anonymous (never a token saved on disk)."""

    def __init__(self, token: str | None = None, endpoint: str | None = None):
        from huggingface_hub import HfApi

        self._token = token or None
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
        self._api = HfApi(endpoint=self.endpoint, token=self._token or False, library_name="modelforge")

    def __repr__(self) -> str:
        return f"HubClient(endpoint={self.endpoint!r}, token={'set' if self._token else 'none'})"

    @property
    def _auth(self) -> str | bool:
        return self._token or False

    def url(self, repo_id: str, repo_type: str = "model") -> str:
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
        return f"{self.endpoint}/{prefix}{repo_id}"

    def reachable(self) -> bool:
        """Whether the Hub answers a socket probe (False at once under HF_HUB_OFFLINE)."""
        from ..catalog import hub_reachable

        return hub_reachable(PROBE_TIMEOUT)

    def whoami(self) -> dict:
        return self._api.whoami(token=self._auth)

    def repo_exists(self, repo_id: str, repo_type: str = "model") -> bool:
        return self._api.repo_exists(repo_id, repo_type=repo_type, token=self._auth)

    def model_license(self, repo_id: str) -> str | None:
        info = self._api.model_info(repo_id, token=self._auth, expand=["cardData", "tags"])
        card = getattr(info, "card_data", None)
        lic = getattr(card, "license", None) if card is not None else None
        return lic or license_from_tags(info.tags or [])

    def repo_check(self, repo_id: str, repo_type: str = "model") -> dict:
        """Existence and gating of a repository before a download (raises if missing or gated)."""
        if repo_type == "dataset":
            info = self._api.dataset_info(repo_id, token=self._auth)
        else:
            info = self._api.model_info(repo_id, token=self._auth)
        return {"id": info.id, "gated": bool(getattr(info, "gated", False)), "sha": info.sha}

    def create_repo(self, repo_id: str, *, repo_type: str = "model", private: bool = True, exist_ok: bool = True,
                    space_sdk: str | None = None, space_hardware: str | None = None,
                    space_variables: dict[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {}
        if repo_type == "space":
            variables = [{"key": k, "value": str(v)} for k, v in (space_variables or {}).items()]
            kwargs = {"space_sdk": space_sdk or "gradio", "space_hardware": space_hardware,
                      "space_variables": variables or None}
        return str(self._api.create_repo(repo_id, token=self._auth, private=private, repo_type=repo_type,
                                         exist_ok=exist_ok, **kwargs))

    def set_space_variables(self, repo_id: str, variables: dict[str, str]) -> None:
        for key, value in variables.items():
            self._api.add_space_variable(repo_id, key, str(value), token=self._auth)

    def upload_files(self, repo_id: str, files: dict[str, Path], *, repo_type: str = "model",
                     commit_message: str = "Upload with ModelForge", delete_others: bool = False,
                     progress: Progress = no_progress) -> str:
        """One commit adding ``files`` (path in the repo -> local file); large files are
        uploaded one by one first so that progress moves. ``delete_others`` removes the files
        of an existing repository that this commit does not hold. Returns the commit's URL."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        ops = {k: CommitOperationAdd(path_in_repo=k, path_or_fileobj=str(v)) for k, v in files.items()}
        self._preupload(repo_id, repo_type, ops, {k: Path(v).stat().st_size for k, v in files.items()}, progress)
        operations: list[Any] = list(ops.values())
        if delete_others:
            existing = self._api.list_repo_files(repo_id, repo_type=repo_type, token=self._auth)
            operations += [CommitOperationDelete(path_in_repo=p) for p in existing
                           if p not in ops and p != ".gitattributes"]
        commit = self._api.create_commit(repo_id, operations=operations, commit_message=commit_message,
                                         repo_type=repo_type, token=self._auth)
        progress(1.0, "commit created")
        return str(commit.commit_url)

    def _preupload(self, repo_id: str, repo_type: str, ops: dict[str, Any], sizes: dict[str, int],
                   progress: Progress) -> None:
        """Upload the files' contents before the commit: the small ones together, then each large one."""
        total = sum(sizes.values()) or 1
        small = [ops[k] for k in ops if sizes[k] < _LARGE]
        done = 0
        progress(0.0, f"uploading {len(ops)} files ({human_size(total)})")
        if small:
            self._api.preupload_lfs_files(repo_id, small, token=self._auth, repo_type=repo_type)
            done += sum(sizes[op.path_in_repo] for op in small)
            progress(done / total, f"uploaded {len(small)} small files")
        for k in sorted(k for k in ops if sizes[k] >= _LARGE):
            progress(done / total, f"uploading {k} ({human_size(sizes[k])})")
            self._api.preupload_lfs_files(repo_id, [ops[k]], token=self._auth, repo_type=repo_type)
            done += sizes[k]
            progress(done / total, f"uploaded {k}")

    def list_models(self, *, search: str | None, sort: str, limit: int, license: str | None = None,
                    pipeline_tag: str | None = "text-generation") -> list[dict]:
        found = self._api.list_models(
            search=search or None, sort=sort, limit=limit, pipeline_tag=pipeline_tag,
            filter=f"license:{license}" if license else None, token=self._auth,
            expand=["downloads", "likes", "tags", "safetensors", "pipeline_tag", "library_name", "gated",
                    "lastModified"])
        return [model_row(m) for m in found]

    def list_datasets(self, *, search: str | None, sort: str, limit: int) -> list[dict]:
        found = self._api.list_datasets(search=search or None, sort=sort, limit=limit, token=self._auth,
                                        expand=["downloads", "likes", "tags", "gated", "lastModified"])
        return [dataset_row(d) for d in found]

    def download(self, repo_id: str, *, repo_type: str = "model", allow_patterns: list[str] | None = None,
                 progress: Progress = no_progress) -> str:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, repo_type=repo_type, allow_patterns=allow_patterns, token=self._auth,
                                 endpoint=self.endpoint, etag_timeout=CALL_TIMEOUT,
                                 tqdm_class=_tqdm_reporter(progress, "downloading"))

    def prepare_dataset(self, repo_id: str) -> int:
        """Load a Hub dataset once with ``datasets`` so that it loads offline later; its rows."""
        import datasets

        ds = datasets.load_dataset(repo_id, token=self._token or None)
        return sum(len(split) for split in ds.values()) if hasattr(ds, "values") else len(ds)


def client_for(token: str | None = None) -> HubClient:
    """A client for this token (already resolved); the seam tests replace (through ``HubClient``)."""
    return HubClient(token)
