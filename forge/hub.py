"""The Hugging Face Hub: publish fine-tuned models, search and download base models and datasets.

Every request to the Hub goes through :class:`HubClient`, a thin wrapper around
``huggingface_hub.HfApi`` with one method per Hub call; the rest of ModelForge calls the
functions below, never ``huggingface_hub``'s network functions. Tests replace the client at
that boundary with a fake that records calls.

The token comes from the caller (the page's field, the API's ``token`` argument) or from
``HUGGINGFACE_TOKEN`` / ``HF_TOKEN``. It lives in memory only: it is passed to
``huggingface_hub`` as an explicit ``token=`` argument (never ``login()``, so nothing is saved
to disk), and nothing here writes it to the run store, run folders, logs, configs or model
cards. Error messages are scrubbed of it.

Every action fails fast when the Hub cannot be reached: ``HF_HUB_OFFLINE`` or a failed socket
probe (``catalog.hub_reachable``) answers at once, and each metadata call has a deadline, so an
offline machine, a blocked network or a bad token gets a plain message within 5 seconds.
Uploads and downloads themselves take as long as the files need, with progress.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import time
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import EMBEDDED_MODEL
from .errors import ForgeError, HubError, ModelNotFoundError, OfflineError

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
TOKEN_ENV = ("HUGGINGFACE_TOKEN", "HF_TOKEN")
PROBE_TIMEOUT = 1.5  # seconds for the socket probe of the Hub
CALL_TIMEOUT = 3.0  # seconds for one metadata call (whoami, search, repo checks)
EMBEDDED_LICENSE = "apache-2.0"
# The files a model or adapter needs on the Hub (the same families catalog.resolve downloads).
MODEL_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken", "*.gguf", "Modelfile"]
# run leftovers and files naming this machine's folders stay here
SKIP_FILES = {"README.md", "EMBEDDED.json", "MERGED.json", "run_config.yaml", "training_args.bin",
              "trainer_state.json"}
LICENSES = ["apache-2.0", "mit", "llama3.2", "llama3.1", "gemma", "openrail", "cc-by-4.0", "cc-by-sa-4.0",
            "bsd-3-clause", "other"]
SORTS = ("downloads", "likes", "trending_score", "last_modified")


def _noop(_fraction: float, _message: str) -> None:
    pass


# ---- token ------------------------------------------------------------------------------------

def resolve_token(token: str | None = None) -> str | None:
    """The token to use: the one given, else ``HUGGINGFACE_TOKEN`` or ``HF_TOKEN``; None when none."""
    token = (token or "").strip()
    if token:
        return token
    for name in TOKEN_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def token_source(token: str | None = None) -> str | None:
    """Where the token in use comes from: ``field``, the environment variable's name, or None."""
    if (token or "").strip():
        return "field"
    return next((name for name in TOKEN_ENV if os.environ.get(name, "").strip()), None)


def _scrub(text: str, token: str | None) -> str:
    text = str(text)
    if token:
        text = text.replace(token, "hf_***")
    return re.sub(r"\bhf_[A-Za-z0-9]{8,}\b", "hf_***", text)


def switched_off() -> OfflineError:
    return OfflineError("The Hugging Face Hub is switched off on this machine (HF_HUB_OFFLINE is set).",
                        "Unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) and restart ModelForge to use the Hub. "
                        "Models already downloaded and the embedded default still work offline.")


def need_token(token: str | None, action: str) -> str:
    """The token, or why the action cannot go on (with the Hub switched off, that first: asking
    for a token would not help)."""
    from .settings import get_settings

    if not token and get_settings().offline:
        raise switched_off()
    if not token:
        raise HubError(f"{action} needs a Hugging Face token, and none is set.",
                       "Paste a token with write access (huggingface.co/settings/tokens) into the Hub tab's token "
                       "field, or set HF_TOKEN in the environment before starting ModelForge.")
    return token


# ---- repository names -------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"^[A-Za-z0-9._-]+$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def repo_id_problem(repo_id: str | None) -> str | None:
    """What is wrong with a repository name under the Hub's naming rules; None when it is valid.

    ``namespace/name``: the namespace is a user or organization name (letters, digits and
    ``-``, not at either end); the name uses letters, digits, ``-``, ``_`` and ``.``, does not
    start or end with ``-`` or ``.``, holds no ``--`` or ``..``, does not end in ``.git``, and
    the whole id is at most 96 characters.
    """
    rid = (repo_id or "").strip()
    if not rid:
        return "Give a repository name like your-name/my-model."
    if rid.count("/") != 1:
        return (f"'{rid}' must be namespace/name: your user or organization name, a slash, then the model's "
                f"name (for example your-name/{_slug(rid.replace('/', '-')) if rid.strip('/') else 'my-model'}).")
    namespace, name = rid.split("/")
    if not namespace or not name:
        return "Both parts are needed: namespace/name, for example your-name/my-model."
    if len(rid) > 96:
        return f"'{rid}' is {len(rid)} characters long; the Hub allows at most 96."
    if not _NAMESPACE.match(namespace):
        return (f"The namespace '{namespace}' may only hold letters, digits and '-', and may not start or end "
                f"with '-'.")
    if not _NAME_CHARS.match(name):
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9._-]", c)})
        return f"The name '{name}' holds characters the Hub does not allow ({' '.join(repr(c) for c in bad)}): " \
               f"use letters, digits, '-', '_' and '.'."
    if name[0] in "-." or name[-1] in "-.":
        return f"The name '{name}' may not start or end with '-' or '.'."
    if "--" in rid or ".." in rid:
        return f"'{rid}' holds '--' or '..', which the Hub forbids."
    if name.lower().endswith(".git"):
        return f"The name '{name}' may not end in '.git'."
    return None


def check_repo_id(repo_id: str | None) -> str:
    """The repository id, stripped, or a HubError saying what is wrong with it."""
    problem = repo_id_problem(repo_id)
    if problem:
        raise HubError(f"Invalid repository name: {problem}",
                       "Names follow the Hub's rules: namespace/name, letters, digits, '-', '_' and '.', at most "
                       "96 characters.")
    return repo_id.strip()


# ---- reaching the Hub -------------------------------------------------------------------------

def bounded(fn: Callable[[], Any], what: str, timeout: float = CALL_TIMEOUT) -> Any:
    """``fn()``, or a HubError when it has not answered within ``timeout`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 — re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True, name=f"hub-{what[:20]}")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise HubError(f"The Hugging Face Hub did not answer within {timeout:.0f} seconds ({what}).",
                       "The connection is slow or blocked (a proxy or firewall?). Try again in a moment.")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ensure_online(client: "HubClient") -> None:
    """Raise OfflineError at once when the client cannot reach the Hub from this machine."""
    from .settings import get_settings

    try:
        ok = bounded(client.reachable, "connection check", PROBE_TIMEOUT + 0.5)
    except HubError:
        ok = False
    if ok:
        return
    if get_settings().offline:
        raise switched_off()
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    raise OfflineError(f"This machine cannot reach the Hugging Face Hub ({endpoint}).",
                       "Check the internet connection (or proxy) and try again. Models already downloaded and the "
                       "embedded default still work offline.")


def _translate(e: BaseException, what: str, token: str | None = None) -> ForgeError:
    """A Hub library exception as a ForgeError with a plain message (the token scrubbed)."""
    if isinstance(e, ForgeError):
        return e
    detail = _scrub(str(e).splitlines()[0] if str(e) else type(e).__name__, token)[:300]
    status = getattr(getattr(e, "response", None), "status_code", None)
    err = (_library_error(e, what, detail) or _http_error(e, what, detail, status)
           or _connection_error(e, what, detail)
           or HubError(f"{what} failed: {type(e).__name__}: {detail}", "Try again; if it persists, report it."))
    err.status = status  # type: ignore[attr-defined]
    return err


def _library_error(e: BaseException, what: str, detail: str) -> ForgeError | None:
    """The huggingface_hub exceptions that say what is wrong by their type."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(e, OfflineModeIsEnabled):
        return OfflineError(f"{what} needs the Hub, and offline mode is on (HF_HUB_OFFLINE).",
                            "Unset HF_HUB_OFFLINE and restart ModelForge.")
    if isinstance(e, GatedRepoError):
        return HubError(f"{what} failed: the repository is gated.",
                        "Accept its conditions on its Hub page with your account, then use a token of that account.")
    if isinstance(e, RepositoryNotFoundError):
        return HubError(f"{what} failed: the repository does not exist, or it is private and the token cannot see "
                        "it.", "Check the name, or use a token with access to it.")
    if isinstance(e, HFValidationError):
        return HubError(f"{what} failed: {detail}", "Check the repository name.")
    return None


# What the Hub's refusals mean, by HTTP status: (what went wrong, how to fix it).
_HTTP_REFUSALS = {
    401: ("the Hub refused the token (401 Unauthorized): it is invalid or expired.",
          "Create a new token at huggingface.co/settings/tokens and paste it in the token field (or HF_TOKEN)."),
    403: ("the token is not allowed to do this (403 Forbidden).",
          "Use a token with write access, and a namespace you (or your organization) own."),
    402: ("this needs a paid plan or billing on the account (402).",
          "Pick free hardware, or set up billing on huggingface.co/settings/billing."),
}


def _http_error(e: BaseException, what: str, detail: str, status: int | None) -> ForgeError | None:
    from huggingface_hub.errors import HfHubHTTPError

    if not isinstance(e, HfHubHTTPError):
        return None
    if status in _HTTP_REFUSALS:
        message, hint = _HTTP_REFUSALS[status]
        return HubError(f"{what} failed: {message}", hint)
    return HubError(f"{what} failed: the Hub answered {status or 'with an error'}: {detail}",
                    "Try again in a moment; if it persists, check status.huggingface.co.")


def _connection_error(e: BaseException, what: str, detail: str) -> ForgeError | None:
    name = type(e).__name__
    if isinstance(e, (ConnectionError, TimeoutError, OSError)) or "Connect" in name or "Timeout" in name:
        return OfflineError(f"{what} failed: the connection to the Hub broke ({name}: {detail}).",
                            "Check the internet connection and try again.")
    return None


@contextlib.contextmanager
def hub_errors(what: str, token: str | None = None) -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except Exception as e:
        err = _translate(e, what, token)
        log.info("%s: %s", what, _scrub(repr(e), token)[:500])
        raise err from None


# ---- the client: the one object that talks to the Hub ------------------------------------------

def _tqdm_reporter(progress: Progress, start: float, span: float, label: str):
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
                        progress(start + span * frac, f"{label}: {_size(self._done)} of {_size(self.total)}")
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
        from .catalog import hub_reachable

        return hub_reachable(PROBE_TIMEOUT)

    def whoami(self) -> dict:
        return self._api.whoami(token=self._auth)

    def repo_exists(self, repo_id: str, repo_type: str = "model") -> bool:
        return self._api.repo_exists(repo_id, repo_type=repo_type, token=self._auth)

    def model_license(self, repo_id: str) -> str | None:
        info = self._api.model_info(repo_id, token=self._auth, expand=["cardData", "tags"])
        card = getattr(info, "card_data", None)
        lic = getattr(card, "license", None) if card is not None else None
        return lic or _license_from_tags(info.tags or [])

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
                     progress: Progress = _noop) -> str:
        """One commit adding ``files`` (path in the repo -> local file); large files are
        uploaded one by one first so that progress moves. ``delete_others`` removes the files
        of an existing repository that this commit does not hold. Returns the commit's URL."""
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        sizes = {k: Path(v).stat().st_size for k, v in files.items()}
        total = sum(sizes.values()) or 1
        ops = {k: CommitOperationAdd(path_in_repo=k, path_or_fileobj=str(v)) for k, v in files.items()}
        small = [ops[k] for k in ops if sizes[k] < 10 * 2**20]
        done = 0
        progress(0.0, f"uploading {len(files)} files ({_size(total)})")
        if small:
            self._api.preupload_lfs_files(repo_id, small, token=self._auth, repo_type=repo_type)
            done += sum(sizes[op.path_in_repo] for op in small)
            progress(done / total, f"uploaded {len(small)} small files")
        for k in sorted(k for k in ops if sizes[k] >= 10 * 2**20):
            progress(done / total, f"uploading {k} ({_size(sizes[k])})")
            self._api.preupload_lfs_files(repo_id, [ops[k]], token=self._auth, repo_type=repo_type)
            done += sizes[k]
            progress(done / total, f"uploaded {k}")
        operations: list[Any] = list(ops.values())
        if delete_others:
            existing = self._api.list_repo_files(repo_id, repo_type=repo_type, token=self._auth)
            operations += [CommitOperationDelete(path_in_repo=p) for p in existing
                           if p not in ops and p != ".gitattributes"]
        commit = self._api.create_commit(repo_id, operations=operations, commit_message=commit_message,
                                         repo_type=repo_type, token=self._auth)
        progress(1.0, "commit created")
        return str(commit.commit_url)

    def list_models(self, *, search: str | None, sort: str, limit: int, license: str | None = None,
                    pipeline_tag: str | None = "text-generation") -> list[dict]:
        found = self._api.list_models(
            search=search or None, sort=sort, limit=limit, pipeline_tag=pipeline_tag,
            filter=f"license:{license}" if license else None, token=self._auth,
            expand=["downloads", "likes", "tags", "safetensors", "pipeline_tag", "library_name", "gated",
                    "lastModified"])
        return [_model_row(m) for m in found]

    def list_datasets(self, *, search: str | None, sort: str, limit: int) -> list[dict]:
        found = self._api.list_datasets(search=search or None, sort=sort, limit=limit, token=self._auth,
                                        expand=["downloads", "likes", "tags", "gated", "lastModified"])
        return [_dataset_row(d) for d in found]

    def download(self, repo_id: str, *, repo_type: str = "model", allow_patterns: list[str] | None = None,
                 progress: Progress = _noop) -> str:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, repo_type=repo_type, allow_patterns=allow_patterns, token=self._auth,
                                 endpoint=self.endpoint, etag_timeout=CALL_TIMEOUT,
                                 tqdm_class=_tqdm_reporter(progress, 0.0, 1.0, "downloading"))

    def prepare_dataset(self, repo_id: str) -> int:
        """Load a Hub dataset once with ``datasets`` so that it loads offline later; its rows."""
        import datasets

        ds = datasets.load_dataset(repo_id, token=self._token or None)
        return sum(len(split) for split in ds.values()) if hasattr(ds, "values") else len(ds)


def client_for(token: str | None = None) -> HubClient:
    """A client for this token (already resolved); the seam tests replace."""
    return HubClient(token)


# ---- rows for search results ------------------------------------------------------------------

def _license_from_tags(tags: list[str]) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)


def _params(n: int | None) -> str:
    if not n:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def _size(n: float | None) -> str:
    n = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _model_row(m: Any) -> dict:
    st = getattr(m, "safetensors", None)
    params = getattr(st, "total", None) if st is not None else None
    tags = list(getattr(m, "tags", None) or [])
    modified = getattr(m, "last_modified", None)
    return {"id": m.id, "downloads": getattr(m, "downloads", None) or 0, "likes": getattr(m, "likes", None) or 0,
            "params": params, "size": _params(params), "license": _license_from_tags(tags) or "",
            "pipeline_tag": getattr(m, "pipeline_tag", None) or "", "library": getattr(m, "library_name", None) or "",
            "gated": bool(getattr(m, "gated", False)), "updated": modified.date().isoformat() if modified else ""}


def _dataset_row(d: Any) -> dict:
    tags = list(getattr(d, "tags", None) or [])
    size = next((t.split(":", 1)[1] for t in tags if t.startswith("size_categories:")), "")
    modified = getattr(d, "last_modified", None)
    return {"id": d.id, "downloads": getattr(d, "downloads", None) or 0, "likes": getattr(d, "likes", None) or 0,
            "size": size, "license": _license_from_tags(tags) or "", "gated": bool(getattr(d, "gated", False)),
            "updated": modified.date().isoformat() if modified else ""}


# ---- account ----------------------------------------------------------------------------------

def whoami(token: str | None = None) -> dict:
    """The account behind the token: ``{name, fullname, orgs, role, token_source}``."""
    source = token_source(token)
    tok = need_token(resolve_token(token), "Checking the account")
    client = client_for(tok)
    ensure_online(client)
    with hub_errors("Checking the token", tok):
        info = bounded(client.whoami, "checking the token")
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    return {"name": info.get("name"), "fullname": info.get("fullname") or "",
            "orgs": [o.get("name") for o in info.get("orgs") or [] if o.get("name")],
            "role": role or "", "token_source": source}


# ---- model cards ------------------------------------------------------------------------------

def _is_hub_id(ref: str | None) -> bool:
    from .catalog import HUB_ID

    ref = (ref or "").strip()
    return bool(ref) and bool(HUB_ID.match(ref)) and not Path(ref).expanduser().exists()


def base_hub_id(base: str | None) -> str | None:
    """The base model's Hub id, when it has one (the embedded default is SmolLM2 on the Hub)."""
    from .catalog import is_embedded

    if not base:
        return None
    if is_embedded(base):
        return EMBEDDED_MODEL
    return base.strip() if _is_hub_id(base) else None


def _license_of_folder(path: Path) -> str | None:
    with contextlib.suppress(Exception):
        data = json.loads((path / "EMBEDDED.json").read_text())
        if data.get("license"):
            return data["license"]
    readme = path / "README.md"
    if readme.is_file():
        with contextlib.suppress(Exception):
            from huggingface_hub import ModelCard

            return ModelCard(readme.read_text(encoding="utf-8")).data.license
    return None


def base_license(base: str | None, client: HubClient | None = None) -> str | None:
    """The base model's licence: the embedded default's, a local copy's card, else the Hub's
    (only when a client is given and the Hub answers quickly)."""
    from .catalog import _hub_cached, is_embedded

    if not base:
        return None
    if is_embedded(base):
        return EMBEDDED_LICENSE
    p = Path(base).expanduser()
    if p.is_dir():
        return _license_of_folder(p)
    hub_id = base_hub_id(base)
    if not hub_id:
        return None
    cached = _hub_cached(hub_id)
    if cached:
        lic = _license_of_folder(cached)
        if lic:
            return lic
    if client is not None:
        with contextlib.suppress(Exception):
            return bounded(lambda: client.model_license(hub_id), "reading the base model's licence")
    return None


def dataset_ref(ref: str | None) -> dict:
    """How a run's dataset reference shows on a card: ``{kind: sample|file|hub, name, hub_id}``."""
    ref = (ref or "").strip()
    if ref.startswith("sample:"):
        return {"kind": "sample", "name": ref.split(":", 1)[1], "hub_id": None}
    suffixes = {".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".txt"}
    p = Path(ref)
    if not ref or p.suffix.lower() in suffixes or ref.startswith((".", "/", "~")) or p.exists() \
            or not _is_hub_id(ref):
        return {"kind": "file", "name": p.name or "a local file", "hub_id": None}
    return {"kind": "hub", "name": ref, "hub_id": ref}


def loss_curve_png(events_path: str | Path | None, dest: str | Path) -> Path | None:
    """Draw the run's training (and evaluation) loss from its event log into a PNG; None when
    the log holds no loss."""
    from .training.events import read_all

    if not events_path or not Path(events_path).is_file():
        return None
    series: dict[str, tuple[list[float], list[float]]] = {}
    phases = set()
    for ev in read_all(events_path):
        if ev.get("kind") != "metrics" or ev.get("step") is None:
            continue
        phase = ev.get("phase") or ""
        phases.add(phase)
        for key in ("loss", "eval_loss"):
            v = ev.get(key)
            if isinstance(v, (int, float)):
                xs, ys = series.setdefault(f"{key}|{phase}", ([], []))
                xs.append(float(ev["step"]))
                ys.append(float(v))
    if not series:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, (xs, ys) in sorted(series.items(), key=lambda kv: (kv[0].split("|")[1], kv[0].startswith("eval"))):
        key, phase = name.split("|")
        label = ("training loss" if key == "loss" else "evaluation loss") + (f" ({phase})" if len(phases) > 1 else "")
        ax.plot(xs, ys, marker="o" if key == "eval_loss" else None, markersize=4, label=label,
                linestyle="--" if key == "eval_loss" else "-")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, format="png")
    return dest


_SETTINGS_SHOWN = ("num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_ratio",
                   "per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length", "lora_r",
                   "lora_alpha", "lora_dropout", "target_modules", "use_4bit", "use_8bit", "bf16", "fp16",
                   "packing", "gradient_checkpointing", "weight_decay", "eval_split", "max_samples", "seed")
_PRIVATE_SETTINGS = {"model_name", "dataset", "output_dir", "run_name", "logging_dir", "resume_from_checkpoint"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v, ensure_ascii=False, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(v)


def _cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _versions() -> str:
    out = []
    for pkg in ("transformers", "peft", "trl", "torch", "datasets"):
        with contextlib.suppress(Exception):
            out.append(f"{pkg} {_metadata.version(pkg)}")
    return ", ".join(out)


_NOISE = re.compile(r"(runtime|per_second|flos|num_tokens|num_input_tokens_seen|learning_rate|grad_norm|epoch)$")


def _shown_metrics(metrics: dict) -> dict[str, float]:
    """The run's final metrics worth a reader's eye (no throughput counters, no optimizer state)."""
    return {k: float(v) for k, v in (metrics or {}).items()
            if isinstance(v, (int, float)) and not _NOISE.search(k) and not k.startswith("base_eval_")}


def _eval_results(metrics: dict, evaluation: dict | None, dataset: dict) -> list:
    from huggingface_hub import EvalResult

    values: dict[str, float] = {}
    for k, v in _shown_metrics(metrics).items():
        if k.startswith("eval_") and k != "eval_entropy":
            values[k[len("eval_"):]] = v
    for k, v in ((evaluation or {}).get("metrics") or {}).items():
        if isinstance(v, (int, float)):
            values.setdefault(k, float(v))
    ds_type = dataset["hub_id"] or (f"modelforge/sample-{dataset['name']}" if dataset["kind"] == "sample" else "custom")
    return [EvalResult(task_type="text-generation", dataset_type=ds_type, dataset_name=dataset["name"],
                       metric_type=k, metric_name=k, metric_value=round(v, 6))
            for k, v in values.items() if v == v and abs(v) != float("inf")]


def _trained_config(run: dict) -> dict:
    """The settings a run trained with: its config as the Job resolved it (profile defaults and what
    the strategy implies, such as 4-bit for qlora), over the settings the user gave."""
    config = dict(run.get("config") or {})
    path = Path(run.get("run_dir") or "") / "config.yaml"
    if run.get("run_dir") and path.is_file():
        import yaml

        try:
            resolved = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            resolved = None
        if isinstance(resolved, dict):
            config.update(resolved)
    return config


def build_card(model: dict, run: dict | None, repo_id: str, *, kind: str, license: str | None = None,
               image: str | None = "loss_curve.png"):
    """The model card (a ``huggingface_hub.ModelCard``) of a fine-tuned model: metadata, what was
    trained on what with which strategy and settings, the final metrics, the loss curve, usage."""
    from huggingface_hub import ModelCard

    facts = _card_facts(model, run or {}, kind)
    data = _card_data(facts, repo_id, license)
    lines = (_card_intro(facts, repo_id) + _card_training(facts) + _card_results(facts, image)
             + _card_evaluation(facts["evaluation"]) + _card_usage(facts, repo_id))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def _card_facts(model: dict, run: dict, kind: str) -> dict[str, Any]:
    """What a card says, each fact read once: from the model record, then its run, then the run's config."""
    config = _trained_config(run)
    base = model.get("base_model") or run.get("base_model") or config.get("model_name")
    strategy = model.get("strategy") or run.get("strategy") or config.get("strategy") or "sft"
    return {
        "model": model, "run": run, "config": config, "kind": kind, "is_adapter": kind == "adapter",
        "base": base, "base_id": base_hub_id(base), "strategy": strategy, "strategy_label": _strategy_label(strategy),
        "task": model.get("task") or run.get("task") or config.get("task") or "text-generation",
        "dataset": dataset_ref(run.get("dataset") or config.get("dataset")), "metrics": run.get("metrics") or {},
        "evaluation": run.get("evaluation") or model.get("evaluation"),
        "quantized": bool(model.get("quantized_base") or config.get("use_4bit") or config.get("use_8bit")),
    }


def _strategy_label(strategy: str) -> str:
    try:
        from .strategies import STRATEGIES

        return getattr(STRATEGIES.get(strategy), "label", None) or strategy
    except Exception:  # a registry that fails to import must not block a card
        return strategy


def _card_data(facts: dict[str, Any], repo_id: str, license: str | None):
    from huggingface_hub import ModelCardData

    kind, config, dataset = facts["kind"], facts["config"], facts["dataset"]
    tags = ["modelforge", "trl", facts["strategy"], "text-generation"]
    tags += ["lora", "peft"] if facts["is_adapter"] else ["merged"] if kind == "merged" else []
    tags += ["gguf", "llama.cpp", "ollama"] if kind == "gguf" else []
    if facts["quantized"]:
        tags.append("qlora" if config.get("use_4bit") else "8bit-lora")
    return ModelCardData(
        base_model=facts["base_id"], license=license,
        library_name={"adapter": "peft", "gguf": "gguf"}.get(kind, "transformers"),
        tags=list(dict.fromkeys(tags)), datasets=[dataset["hub_id"]] if dataset["hub_id"] else None,
        pipeline_tag="text-generation", model_name=repo_id.split("/")[-1],
        eval_results=_eval_results(facts["metrics"], facts["evaluation"], dataset) or None)


def _card_intro(facts: dict[str, Any], repo_id: str) -> list[str]:
    base, base_id, dataset = facts["base"], facts["base_id"], facts["dataset"]
    base_md = (f"[{base_id}](https://huggingface.co/{base_id})" if base_id
               else f"a local model (`{Path(str(base)).name}`)")
    what = {"adapter": "A LoRA adapter", "merged": "A model (LoRA adapter merged into its base)",
            "full": "A fully fine-tuned model",
            "gguf": "A GGUF file (llama.cpp, Ollama, LM Studio) of a model"}.get(facts["kind"], "A fine-tuned model")
    ds_md = {"hub": f"[{dataset['name']}](https://huggingface.co/datasets/{dataset['name']})",
             "sample": f"ModelForge's built-in sample dataset `{dataset['name']}`",
             "file": f"a local dataset file (`{dataset['name']}`)"}[dataset["kind"]]
    return [f"# {repo_id.split('/')[-1]}", "",
            f"{what} fine-tuned from {base_md} on {ds_md}, with the **{facts['strategy_label']}** strategy, "
            f"using ModelForge.", ""]


def _card_training(facts: dict[str, Any]) -> list[str]:
    """The Training section: what was trained on what, and the settings that shaped it."""
    run, config, dataset = facts["run"], facts["config"], facts["dataset"]
    lines = ["## Training", "", "| | |", "|---|---|",
             f"| Base model | {facts['base_id'] or Path(str(facts['base'])).name} |", f"| Task | {facts['task']} |",
             f"| Dataset | {dataset['name']} ({dataset['kind']}) |",
             f"| Strategy | {facts['strategy_label']} (`{facts['strategy']}`) |"]
    if run.get("n_train") is not None:
        lines.append(f"| Rows | {run.get('n_train')} training, {run.get('n_eval') or 0} evaluation |")
    if run.get("provider"):
        lines.append(f"| Provider | {run['provider']} |")
    if facts["quantized"]:
        lines.append(f"| Quantized base | {'4-bit (QLoRA)' if config.get('use_4bit') else '8-bit'} |")
    if run.get("started") and run.get("finished"):
        lines.append(f"| Training time | {int(run['finished'] - run['started'])} s |")
    shown = [k for k in _SETTINGS_SHOWN if config.get(k) is not None]
    shown += [k for k in run.get("config_set") or [] if k not in shown and k not in _PRIVATE_SETTINGS
              and config.get(k) is not None]
    if shown:
        lines += ["", "### Settings", "", "| Setting | Value |", "|---|---|"]
        lines += [f"| {k} | {_cell(config[k])} |" for k in shown]
    return lines


def _card_results(facts: dict[str, Any], image: str | None) -> list[str]:
    lines = ["", "## Results", ""]
    shown_metrics = _shown_metrics(facts["metrics"])
    if shown_metrics:
        lines += ["| Metric | Final value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in sorted(shown_metrics.items())]
    else:
        lines.append("No metrics were recorded for this run.")
    if image:
        lines += ["", f"![Training and evaluation loss]({image})"]
    return lines


def _card_evaluation(evaluation: dict | None) -> list[str]:
    """The before/after Evaluation section (none when the run scored no answers)."""
    if not evaluation or not (evaluation.get("metrics") or evaluation.get("base_metrics")):
        return []
    after, before = evaluation.get("metrics") or {}, evaluation.get("base_metrics") or {}
    lines = ["", "## Evaluation", "",
             f"On {evaluation.get('n', '?')} held-out rows, before (base model) and after fine-tuning:", "",
             "| Metric | Base | Fine-tuned |", "|---|---|---|"]
    lines += [f"| {k} | {_cell(before[k]) if k in before else '-'} | {_cell(after[k]) if k in after else '-'} |"
              for k in sorted(set(after) | set(before))]
    samples = [s for s in evaluation.get("samples") or [] if s.get("after")][:3]
    if samples:
        lines += ["", "| Prompt | Base model | Fine-tuned |", "|---|---|---|"]
        lines += [f"| {_cell(str(s.get('prompt'))[:150])} | {_cell(str(s.get('before') or '-')[:150])} | "
                  f"{_cell(str(s.get('after'))[:150])} |" for s in samples]
    return lines


def _gguf_usage(facts: dict[str, Any], repo_id: str) -> list[str]:
    name = facts["model"].get("gguf_file") or "model.gguf"
    return ["", "## Usage", "", f"A GGUF file ({facts['model'].get('quant') or 'gguf'}) with its tokenizer and chat "
            "template, for llama.cpp, Ollama and LM Studio.", "", "```bash",
            f"llama-cli -hf {repo_id} -p \"Hello! Who are you?\"",
            f"ollama run hf.co/{repo_id}", "```", "",
            f"The repository's `Modelfile` runs `{name}` with `ollama create my-model -f Modelfile`.", ""]


def _card_usage(facts: dict[str, Any], repo_id: str) -> list[str]:
    is_adapter, base_id = facts["is_adapter"], facts["base_id"]
    if facts["kind"] == "gguf":
        return _gguf_usage(facts, repo_id)
    lines = ["", "## Usage", "", "```python", *_usage(repo_id, is_adapter), "```", ""]
    if facts["model"].get("merged_from_quantized"):
        lines += ["The adapter was trained on a 4-bit quantized base (QLoRA) and merged into the full-precision "
                  "base: answers can differ slightly from those of the 4-bit fine-tuned model.", ""]
    if is_adapter and base_id:
        lines += [f"The adapter loads on top of its base, {base_id}, which is downloaded too.", ""]
    elif is_adapter:
        lines += ["The base model was a local folder: set `base_model_name_or_path` in `adapter_config.json` to a "
                  "Hub id or folder holding it.", ""]
    versions = _versions()
    if versions:
        lines += ["## Framework versions", "", versions, ""]
    return lines


def _usage(repo_id: str, is_adapter: bool) -> list[str]:
    load = (["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer", "",
             f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}")']
            if is_adapter else
            ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")'])
    return load + [f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
                   'messages = [{"role": "user", "content": "Hello! Who are you?"}]',
                   "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,",
                   '                                       return_tensors="pt", return_dict=True)',
                   "output = model.generate(**inputs, max_new_tokens=128)",
                   'print(tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))']


# ---- pushing a fine-tuned model ---------------------------------------------------------------

def _store():
    from .runs import RunStore

    return RunStore()


def _model_record(model_id: str, store=None) -> dict:
    store = store or _store()
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


def _merged_for(model: dict, store, progress: Progress) -> dict:
    """The merged copy of an adapter: the newest one recorded, else a new one (``forge.export.merge``)."""
    merged = [m for m in store.list_models() if m.get("kind") == "merged" and Path(m.get("path") or "").is_dir()
              and (m.get("source_model") == model["id"]
                   or (not m.get("source_model") and m.get("run_id") and m.get("run_id") == model.get("run_id")))]
    if merged:
        return merged[0]
    try:
        from .export import merge
    except ImportError:
        raise HubError(f"Model '{model.get('name')}' is an adapter and has no merged copy yet.",
                       "Merge it into its base on the Models tab first, or push the adapter.") from None
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


def check_namespace(repo_id: str, account: dict) -> None:
    namespace = repo_id.split("/")[0]
    names = {account.get("name") or ""} | {o.get("name") for o in account.get("orgs") or []}
    if namespace not in names:
        raise HubError(f"The token's account '{account.get('name')}' cannot write to '{namespace}'.",
                       f"Use {account.get('name')}/{repo_id.split('/')[1]}, or an organization you belong to"
                       + (f" ({', '.join(sorted(n for n in names if n and n != account.get('name')))})"
                          if len(names) > 1 else "") + ".")


def push_model(model_id: str, repo_id: str, *, kind: str = "adapter", private: bool = True, overwrite: bool = False,
               token: str | None = None, progress: Progress | None = None, store=None) -> dict:
    """Push a fine-tuned model with its model card and loss curve.

    ``kind``: ``adapter`` (the LoRA adapter alone) or ``merged`` (adapter merged into its base;
    a fully fine-tuned model is pushed whole either way). Returns ``{status: pushed, url,
    repo_id, files, commit_url, private}``; when the repository exists and ``overwrite`` is
    false, nothing is uploaded and the answer is ``{status: needs_confirmation, ...}``.
    """
    progress = progress or _noop
    repo_id = check_repo_id(repo_id)
    if kind not in ("adapter", "merged"):
        raise HubError(f"Unknown kind '{kind}'.", "Push 'adapter' (the LoRA weights) or 'merged' (a full model).")
    store = store or _store()
    model = _model_record(model_id, store)
    tok = need_token(resolve_token(token), "Pushing a model")
    client = client_for(tok)
    ensure_online(client)
    progress(0.0, "checking the token")
    with hub_errors("Checking the token", tok):
        account = bounded(client.whoami, "checking the token")
    check_namespace(repo_id, {"name": account.get("name"), "orgs": account.get("orgs") or []})
    with hub_errors(f"Checking whether {repo_id} exists", tok):
        exists = bounded(lambda: client.repo_exists(repo_id), "checking the repository")
    url = client.url(repo_id)
    if exists and not overwrite:
        return {"status": "needs_confirmation", "repo_id": repo_id, "url": url, "files": [],
                "message": f"{repo_id} already exists on the Hub. Pushing replaces its files; confirm to overwrite."}

    if model.get("kind") == "adapter" and kind == "merged":
        model = _merged_for(model, store, progress)
    pushed_kind = {"adapter": "adapter", "merged": "merged", "gguf": "gguf"}.get(model.get("kind"), "full")
    folder = Path(model["path"])
    files = model_files(folder)
    weights = [k for k in files if k.endswith((".safetensors", ".gguf"))]
    if not weights:
        raise ModelNotFoundError(f"The folder of '{model.get('name')}' holds no weights (.safetensors): {folder}",
                                 "Train the model again, or pick another.")
    run = store.get_run(model.get("run_id")) if model.get("run_id") else None
    base = model.get("base_model") or (run or {}).get("base_model")
    progress(0.1, "writing the model card")
    with tempfile.TemporaryDirectory(prefix="forge-push-") as tmp:
        tmp_dir = Path(tmp)
        image = loss_curve_png((run or {}).get("events_path"), tmp_dir / "loss_curve.png")
        license = base_license(base, client)
        card = build_card(model, run, repo_id, kind=pushed_kind, license=license,
                          image="loss_curve.png" if image else None)
        (tmp_dir / "README.md").write_text(str(card), encoding="utf-8")
        files["README.md"] = tmp_dir / "README.md"
        if image:
            files["loss_curve.png"] = image
        if pushed_kind == "adapter" and "adapter_config.json" in files and base_hub_id(base):
            cfg = json.loads(files["adapter_config.json"].read_text(encoding="utf-8"))
            cfg["base_model_name_or_path"] = base_hub_id(base)  # a Hub id, not this machine's folder
            (tmp_dir / "adapter_config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
            files["adapter_config.json"] = tmp_dir / "adapter_config.json"
        with hub_errors(f"Creating {repo_id}", tok):
            bounded(lambda: client.create_repo(repo_id, private=private, exist_ok=True), "creating the repository",
                    CALL_TIMEOUT * 2)
        with hub_errors(f"Uploading to {repo_id}", tok):
            commit_url = client.upload_files(
                repo_id, files, commit_message=f"Upload {pushed_kind} {model.get('name')} with ModelForge",
                delete_others=exists, progress=lambda f, m: progress(0.15 + 0.85 * f, m))
    result = {"status": "pushed", "repo_id": repo_id, "url": url, "commit_url": commit_url, "kind": pushed_kind,
              "files": sorted(files), "private": bool(private) if not exists else None,
              "message": f"Pushed {pushed_kind} '{model.get('name')}' to {url}"
                         + ("" if not exists else " (the repository's visibility is unchanged).")}
    with contextlib.suppress(Exception):  # remember where it went (never the token)
        pushes = list(model.get("hub_pushes") or []) + [{"repo_id": repo_id, "url": url, "time": time.time()}]
        store.update_model(model["id"], hub_pushes=pushes)
    progress(1.0, "done")
    return result


def card_preview(model_id: str, repo_id: str | None = None, kind: str = "adapter", store=None) -> str:
    """The card a push would write (no network: the licence comes from local copies only)."""
    store = store or _store()
    model = _model_record(model_id, store)
    run = store.get_run(model.get("run_id")) if model.get("run_id") else None
    rid = repo_id if repo_id and not repo_id_problem(repo_id) else f"your-name/{_slug(model.get('name') or 'model')}"
    shown_kind = "adapter" if model.get("kind") == "adapter" and kind == "adapter" else (
        "merged" if model.get("kind") in ("adapter", "merged") else "gguf" if model.get("kind") == "gguf" else "full")
    return str(build_card(model, run, rid, kind=shown_kind, license=base_license(model.get("base_model")),
                          image="loss_curve.png"))


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    s = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", s))
    return (s or "model")[:80]


def suggest_repo_id(model_id: str, account: str | None) -> str:
    try:
        name = _model_record(model_id).get("name") or "model"
    except ForgeError:
        name = "model"
    return f"{account or 'your-name'}/{_slug(name)}"


def pushable_models(store=None) -> list[dict]:
    """The run store's models that can be pushed: ``{id, name, kind, base_model, created, path}``."""
    store = store or _store()
    return [{k: m.get(k) for k in ("id", "name", "kind", "base_model", "strategy", "created", "path", "run_id")}
            for m in store.list_models() if Path(m.get("path") or "").is_dir()]


# ---- search and download ----------------------------------------------------------------------

def search_models(query: str = "", *, sort: str = "downloads", license: str | None = None,
                  max_params_b: float | None = None, limit: int = 20, token: str | None = None) -> list[dict]:
    """Text-generation models on the Hub: ``{id, downloads, likes, params, size, license, ...}``."""
    if sort not in SORTS:
        raise HubError(f"Unknown sort '{sort}'.", f"Sort by one of: {', '.join(SORTS)}.")
    limit = max(1, min(int(limit or 20), 100))
    tok = resolve_token(token)
    client = client_for(tok)
    ensure_online(client)
    fetch = limit * 3 if max_params_b else limit
    with hub_errors("Searching models", tok):
        rows = bounded(lambda: client.list_models(search=(query or "").strip(), sort=sort, limit=fetch,
                                                  license=(license or "").strip() or None), "searching models")
    if max_params_b:
        rows = [r for r in rows if r.get("params") and r["params"] <= float(max_params_b) * 1e9]
    return rows[:limit]


def search_datasets(query: str = "", *, sort: str = "downloads", limit: int = 20,
                    token: str | None = None) -> list[dict]:
    """Datasets on the Hub: ``{id, downloads, likes, size, license, ...}``."""
    if sort not in SORTS:
        raise HubError(f"Unknown sort '{sort}'.", f"Sort by one of: {', '.join(SORTS)}.")
    tok = resolve_token(token)
    client = client_for(tok)
    ensure_online(client)
    with hub_errors("Searching datasets", tok):
        return bounded(lambda: client.list_datasets(search=(query or "").strip(), sort=sort,
                                                    limit=max(1, min(int(limit or 20), 100))), "searching datasets")


def _check_hub_id(repo_id: str, what: str) -> str:
    from .catalog import HUB_ID

    rid = (repo_id or "").strip()
    if not HUB_ID.match(rid) or repo_id_problem(rid):
        raise HubError(f"'{repo_id}' is not a Hub {what} id.", f"Give it as org/name, for example "
                       f"{'HuggingFaceTB/SmolLM2-360M-Instruct' if what == 'model' else 'tatsu-lab/alpaca'}.")
    return rid


def download_model(repo_id: str, *, token: str | None = None, progress: Progress | None = None) -> dict:
    """Download a base model into the local Hub cache, where the Finetune tab finds it."""
    progress = progress or _noop
    rid = _check_hub_id(repo_id, "model")
    tok = resolve_token(token)
    client = client_for(tok)
    ensure_online(client)
    progress(0.0, f"checking {rid}")
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
    return {"repo_id": rid, "path": str(path), "size": _size(sum(p.stat().st_size for p in path.iterdir()
                                                                  if p.is_file())),
            "message": f"{rid} is in the local cache: pick it on the Finetune tab (model {rid})."}


def download_dataset(repo_id: str, *, token: str | None = None, progress: Progress | None = None) -> dict:
    """Download a Hub dataset and prepare it with ``datasets``, so that runs can use it offline."""
    progress = progress or _noop
    rid = _check_hub_id(repo_id, "dataset")
    tok = resolve_token(token)
    client = client_for(tok)
    ensure_online(client)
    progress(0.0, f"checking {rid}")
    with hub_errors(f"Downloading dataset {rid}", tok):
        bounded(lambda: client.repo_check(rid, "dataset"), "checking the dataset")
        path = client.download(rid, repo_type="dataset", progress=lambda f, m: progress(0.8 * f, m))
        progress(0.85, "preparing the dataset")
        rows = client.prepare_dataset(rid)
    progress(1.0, "done")
    return {"repo_id": rid, "path": str(path), "rows": rows, "reference": rid,
            "message": f"Dataset {rid} is ready ({rows} rows): give {rid} as the dataset on the Finetune tab."}


def cached_models(cache_dir: str | Path | None = None) -> list[dict]:
    """Models in the local Hub cache that ModelForge can train: ``{repo_id, path, size, modified}``,
    newest first. No network. The Finetune tab's model picker lists these (their ``repo_id`` is
    the reference to train from: ``catalog.resolve`` finds the cached copy offline)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

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
            out.append({"repo_id": repo.repo_id, "path": str(path), "size": _size(rev.size_on_disk),
                        "modified": rev.last_modified})
    return sorted(out, key=lambda r: r["modified"], reverse=True)


# ---- where things are kept --------------------------------------------------------------------

def storage_info() -> dict:
    """Where ModelForge keeps models here, and whether that survives a restart of a Space."""
    from huggingface_hub import constants

    from .settings import get_settings

    s = get_settings()
    persistent = None
    if s.on_space:
        persistent = str(s.home).startswith("/data")
    return {"home": str(s.home), "runs": str(s.runs_dir), "models": str(s.models_dir),
            "hub_cache": str(constants.HF_HUB_CACHE), "on_space": s.on_space, "space_id": s.space_id,
            "persistent": persistent, "offline": s.offline}


__all__ = ["HubClient", "cached_models", "card_preview", "check_repo_id", "client_for", "download_dataset",
           "download_model", "ensure_online", "build_card", "loss_curve_png", "push_model", "pushable_models",
           "repo_id_problem", "resolve_token", "search_datasets", "search_models", "storage_info", "whoami"]
