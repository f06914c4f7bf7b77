"""The loaded models of this process, kept between requests.

The :class:`ModelRegistry` keeps loaded models keyed by their folder; it holds at most
``MODELFORGE_MAX_LOADED_MODELS`` (default 1) idle models, so switching to another model releases
the least recently used one. A model that is generating or loading is never released under it, so
two browsers chatting at once (with the same model or two different ones) both get answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import models
from ..hardware import free_memory
from ..refs import ModelSpec
from .loading import InferenceModel, Progress, load_model

log = logging.getLogger(__name__)


def _inside(p: str | Path | None, folder: Path) -> bool:
    if p is None:
        return False
    p = Path(p).resolve()
    return p == folder or p.is_relative_to(folder)


class ModelRegistry:
    """Loaded models, kept between requests. Thread-safe."""

    def __init__(self, capacity: int | None = None, loader: Callable[..., InferenceModel] = load_model):
        self.capacity = max(1, capacity or int(os.environ.get("MODELFORGE_MAX_LOADED_MODELS", "1") or 1))
        self._models: OrderedDict[str, InferenceModel] = OrderedDict()
        self._loading: dict[str, Path] = {}  # key → folder, while loading
        self._cond = threading.Condition(threading.RLock())
        self._load_lock = threading.Lock()  # one load at a time
        self._loader = loader

    @contextlib.contextmanager
    def use(self, spec: ModelSpec, progress: Progress | None = None) -> Iterator[InferenceModel]:
        """The loaded model for ``spec`` (loading it when needed), held in use for the ``with`` block."""
        m = self._acquire(spec, progress)
        try:
            yield m
        finally:
            with self._cond:
                m.active -= 1
                m.last_used = time.monotonic()
                self._cond.notify_all()

    def load(self, spec: ModelSpec, progress: Progress | None = None) -> InferenceModel:
        with self.use(spec, progress) as m:
            return m

    def _held(self, key: str, progress: Progress | None) -> InferenceModel | None:
        """The model loaded under ``key``, now held in use; None when it is not loaded (``key`` is then
        marked as loading by this caller). Waits while another request loads it."""
        with self._cond:
            while True:
                m = self._models.get(key)
                if m is not None:
                    m.active += 1
                    self._models.move_to_end(key)
                    if progress:
                        progress(1.0, "Already loaded.")
                    return m
                if key not in self._loading:
                    return None
                self._cond.wait(timeout=1.0)  # another request is loading it: wait for that

    def _acquire(self, spec: ModelSpec, progress: Progress | None) -> InferenceModel:
        key = spec.key
        with self._cond:
            m = self._held(key, progress)
            if m is not None:
                return m
            self._loading[key] = spec.path
        try:
            with self._load_lock:
                self._evict(keep=self.capacity - 1)
                m = self._loader(spec, progress)
            with self._cond:
                m.active += 1
                self._models[key] = m
                return m
        finally:
            with self._cond:
                self._loading.pop(key, None)
                self._cond.notify_all()

    def _evict(self, keep: int) -> list[str]:
        """Release idle models, least recently used first, until at most ``keep`` remain."""
        with self._cond:
            idle = [k for k, m in self._models.items() if m.active == 0]
            gone = idle[:max(0, len(self._models) - keep)]
            for key in gone:
                del self._models[key]
        if gone:
            free_memory()
            log.info("released %s", ", ".join(gone))
        return gone

    def _release(self, chosen: Callable[[str, InferenceModel], bool]) -> list[str]:
        with self._cond:
            keys = [k for k, m in self._models.items() if chosen(k, m)]
            for k in keys:
                del self._models[k]
        if keys:
            free_memory()
        return keys

    def unload(self, ref_or_key: str | None = None) -> list[str]:
        """Release one model (by reference, id or folder) or all. A model still answering
        finishes its answer, then its memory is freed."""
        return self._release(lambda k, m: ref_or_key is None or ref_or_key in (k, m.spec.reference, m.spec.model_id))

    def loaded(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m.info() for m in self._models.values()]

    def get_loaded(self, key: str) -> InferenceModel | None:
        with self._cond:
            return self._models.get(key)

    def in_use(self, folder: str | Path) -> bool:
        """Whether a model in ``folder`` (or an adapter on it) is answering or loading now."""
        folder = Path(folder).resolve()
        with self._cond:
            if any(_inside(p, folder) for p in self._loading.values()):
                return True
            return any(m.active > 0 and any(_inside(p, folder) for p in m.paths()) for m in self._models.values())

    def release_folder(self, folder: str | Path) -> list[str]:
        """Release idle models loaded from ``folder`` (before its files are deleted)."""
        folder = Path(folder).resolve()
        return self._release(lambda k, m: any(_inside(p, folder) for p in m.paths()))


_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> ModelRegistry:
    """This process's registry (made on first use; :mod:`forge.models` asks it before deleting a model)."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = ModelRegistry()
            models.track_loaded_models(_registry)
        return _registry


def unload(ref: str | None = None) -> list[str]:
    return get_registry().unload(ref)
