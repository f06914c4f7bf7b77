"""Inference: load a base model (plus a LoRA adapter) once, keep it, and stream its answers.

* :func:`resolve_spec` turns a reference (a fine-tuned model's id from the run store, the
  embedded default, a Hub id, or a local folder) into a :class:`ModelSpec`, without loading.
* The :class:`ModelRegistry` keeps loaded models in memory between messages, keyed by their
  folder; it holds at most ``MODELFORGE_MAX_LOADED_MODELS`` (default 1) idle models, so
  switching to another model releases the least recently used one. A model that is
  generating or loading is never released under it, so two browsers chatting at once (with
  the same model or two different ones) both get answers. ``unload()`` frees memory.
* :func:`stream` streams one answer as text pieces (``TextIteratorStreamer``, generation in a
  thread); :func:`stream_compare` streams the fine-tuned model's answer and its base model's
  side by side. For a LoRA adapter both come from one model in one batch (PEFT's mixed-adapter
  batch: one row through the adapter, one through the base), so comparing costs no extra memory.
* The prompt goes through the chat template saved in the model's folder (the one the model
  was trained with); task modes build their prompt with :func:`forge.data.tasks.prompt_messages`,
  exactly as in training.
* A stop ``threading.Event`` ends generation after the current token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import EMBEDDED_MODEL
from .errors import ConfigError, ForgeError, ModelNotFoundError
from .hardware import free_memory
from .refs import ModelSpec, base_spec_of, resolve_spec, run_config, spec_from_record

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
MODES = ("chat", "summarization", "extractive-qa")
BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch


# ---- generation settings ---------------------------------------------------------------------

@dataclass
class GenerationSettings:
    """How an answer is sampled. ``temperature`` 0 means greedy decoding."""

    system_prompt: str = ""
    temperature: float = 0.3  # small models ramble when sampled hot
    top_p: float = 0.9
    top_k: int = 50
    max_new_tokens: int = 200
    repetition_penalty: float = 1.1

    LIMITS = {"temperature": (0.0, 5.0), "top_p": (0.0, 1.0), "top_k": (0, 1000), "max_new_tokens": (1, 8192),
              "repetition_penalty": (0.5, 3.0)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "GenerationSettings":
        data = {k: v for k, v in (data or {}).items() if v is not None}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown generation setting(s): {', '.join(unknown)}.",
                              f"Use any of: {', '.join(sorted(known))}.")
        out = cls()
        for name, value in data.items():
            if name == "system_prompt":
                if not isinstance(value, str):
                    raise ConfigError("system_prompt must be text.")
                out.system_prompt = value
                continue
            kind = int if name in ("top_k", "max_new_tokens") else float
            try:
                number = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} must be a number, not {value!r}.") from None
            lo, hi = cls.LIMITS[name]
            if not lo <= number <= hi or (name == "top_p" and number == 0):
                raise ConfigError(f"{name} is {value}; it must be between {lo} and {hi}"
                                  + (" (above 0)" if name == "top_p" else "") + ".")
            setattr(out, name, number)
        return out

    def generate_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.temperature > 0:
            kw.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw


# ---- prompts ---------------------------------------------------------------------------------

def plain_content(content: Any) -> str:
    """Text of a chat message's content: a string, or a list of parts (``{"type": "text", "text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(plain_content(c) for c in content)
    return "" if content is None else str(content)


def normalize_messages(messages: Any) -> list[dict[str, str]]:
    """A list of ``{"role", "content"}`` messages with plain-text content; ConfigError otherwise."""
    if not isinstance(messages, list):
        raise ConfigError("messages must be a list of {\"role\", \"content\"} objects.")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ConfigError(f"messages[{i}] must be an object with role system, user or assistant, and content.")
        out.append({"role": m["role"], "content": plain_content(m.get("content"))})
    return out


def build_messages(mode: str = "chat", *, system: str = "", history: list[dict] | None = None, prompt: str = "",
                   document: str = "", context: str = "", question: str = "") -> list[dict[str, str]]:
    """The prompt messages for one request.

    ``chat``: the system prompt, the earlier turns, then ``prompt`` as the user's message.
    ``summarization`` (``document``) and ``extractive-qa`` (``context`` and ``question``):
    formatted by :func:`forge.data.tasks.prompt_messages`, exactly as the training rows were.
    """
    from .data.tasks import prompt_messages

    system = (system or "").strip() or None
    if mode == "summarization":
        if not (document or "").strip():
            raise ConfigError("Summarization needs a document to summarize.")
        return prompt_messages({"document": document}, "summarization", system)
    if mode == "extractive-qa":
        if not (context or "").strip() or not (question or "").strip():
            raise ConfigError("Extractive QA needs a context and a question.")
        return prompt_messages({"context": context, "question": question}, "extractive-qa", system)
    if mode not in ("chat", "text-generation"):
        raise ConfigError(f"Unknown mode '{mode}'.", f"Use one of: {', '.join(MODES)}.")
    msgs = normalize_messages(list(history or []))
    if system and not (msgs and msgs[0]["role"] == "system"):
        msgs = [{"role": "system", "content": system}] + msgs
    if (prompt or "").strip():
        msgs.append({"role": "user", "content": prompt})
    if not msgs or msgs[-1]["role"] != "user":
        raise ConfigError("There is no message to answer.", "Type a message (or give prompt or messages ending "
                          "with a user message).")
    return msgs


def mode_for_task(task: str | None) -> str:
    """The Playground mode that fits a model trained on ``task``."""
    return task if task in ("summarization", "extractive-qa") else "chat"


# ---- what a reference points to --------------------------------------------------------------

def base_model_choices() -> list[tuple[str, str]]:
    """``(label, reference)`` of the base models present: the embedded default, then model folders in
    the home's models/ folder, then the models downloaded into the local Hub cache (by Hub id: they
    load from the cache, offline)."""
    from .settings import get_settings

    out = [(f"{EMBEDDED_MODEL} (embedded default)", EMBEDDED_MODEL)]
    models = get_settings().models_dir
    for p in sorted(models.iterdir()) if models.is_dir() else []:
        if p.is_dir() and ((p / "config.json").is_file() or (p / "adapter_config.json").is_file()):
            out.append((f"{p.name} (models/)", str(p)))
    try:
        from .hub import cached_models

        cached = cached_models()
    except Exception:  # an unreadable cache must not break the list
        cached = []
    for m in cached:
        if m["repo_id"] != EMBEDDED_MODEL:
            out.append((f"{m['repo_id']} (downloaded, {m['size']})", m["repo_id"]))
    return out


def model_choices() -> list[tuple[str, str]]:
    """``(label, reference)`` of every model that can answer (the Playground's picker and the
    OpenAI-compatible ``/v1/models``): fine-tuned models first (by id), then the base models present."""
    from . import models

    out, paths = [], set()
    for m in models.list_models():
        if not m.get("files_ok"):
            continue
        paths.add(str(Path(m["folder"]).resolve()))
        extra = f" · {m['task']}" if m.get("task") else ""
        out.append((f"{m['name']} · {m.get('kind')}{extra}", m["id"]))
    for label, value in base_model_choices():
        if value == EMBEDDED_MODEL or str(Path(value).resolve()) not in paths:
            out.append((label if value == EMBEDDED_MODEL else f"{label} · base", value))
    return out


# ---- loading ---------------------------------------------------------------------------------

def device_and_dtype():
    """Where inference runs: the first GPU (bf16, else fp16), Apple's MPS (fp16), or the CPU (fp32)."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps", torch.float16
    return "cpu", torch.float32


@dataclass
class InferenceModel:
    """A loaded model, ready to generate. ``lock`` lets one generation run on it at a time."""

    spec: ModelSpec
    model: Any
    tokenizer: Any
    device: str
    base_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    load_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0  # generations running or waiting on this model
    last_used: float = field(default_factory=time.monotonic)

    @property
    def has_adapter(self) -> bool:
        return self.spec.is_adapter

    def paths(self) -> list[Path]:
        return [self.spec.path] + ([self.base_path] if self.base_path else [])

    def info(self) -> dict[str, Any]:
        return {"key": self.spec.key, "reference": self.spec.reference, "label": self.spec.label,
                "model_id": self.spec.model_id, "kind": self.spec.kind, "device": self.device,
                "base_path": str(self.base_path) if self.base_path else None, "notes": list(self.notes),
                "load_seconds": round(self.load_seconds, 2), "busy": self.active > 0}

    # ---- prompts --------------------------------------------------------------------------
    @property
    def context_length(self) -> int | None:
        """How many tokens the model reads at most (prompt and answer together), when it says."""
        return getattr(self.model.config, "max_position_embeddings", None)

    def encode(self, messages: list[dict[str, str]] | str, max_new_tokens: int = 0, *,
               truncate: bool = True) -> dict[str, Any]:
        """Token ids of the prompt, through the chat template saved with the model (as in training);
        a plain string is a raw text prompt, encoded as it is (a completion, not a chat). A prompt
        too long for the context keeps its end (unless ``truncate`` is False)."""
        tok = self.tokenizer
        if isinstance(messages, str):
            enc = tok(messages, return_tensors="pt")
        elif getattr(tok, "chat_template", None):
            enc = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                          return_tensors="pt")
        else:  # a base model without a chat template: plain text turns
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
            enc = tok(text, return_tensors="pt")
        enc = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        limit = self.context_length
        if truncate and limit and enc["input_ids"].shape[1] + max_new_tokens > limit:
            keep = max(1, limit - max_new_tokens)  # keep the end of a too-long conversation
            enc = {k: v[:, -keep:] for k, v in enc.items()}
        return enc

    def eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for v in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(v, int):
                ids.add(v)
            elif isinstance(v, (list, tuple)):
                ids.update(int(x) for x in v)
        return ids


def _quantization(spec: ModelSpec, device: str):
    """The 4-bit or 8-bit loading a QLoRA adapter was trained with, where this machine can do it."""
    import importlib.util

    if not spec.quantized_base:
        return None, None
    if device != "cuda" or importlib.util.find_spec("bitsandbytes") is None:
        return None, ("The adapter was trained on a 4-bit (QLoRA) base; here it runs on the full-precision base "
                      "(no GPU with bitsandbytes), so answers can differ slightly from the quantized model's.")
    from .config import parse_config
    from .providers.huggingface import quantization_config

    try:
        cfg = parse_config(run_config(spec.path))
    except Exception:
        return None, "The adapter's run_config.yaml is unreadable: the base is loaded in full precision."
    q = quantization_config(cfg)
    if q is None:
        return None, None
    return q, f"Base loaded in {'4' if cfg.use_4bit else '8'}-bit, as in training."


def _gguf_file(spec: ModelSpec) -> dict[str, str]:
    """For a GGUF model: the file transformers' GGUF reader loads (its weights dequantized)."""
    if spec.kind != "gguf":
        return {}
    files = sorted(spec.path.glob("*.gguf"))
    return {"gguf_file": files[0].name} if files else {}


def load_model(spec: ModelSpec, progress: Progress | None = None) -> InferenceModel:
    """Load a model (and its adapter) for generation."""
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer

    say = progress or (lambda f, m: None)
    t0 = time.monotonic()
    device, dtype = device_and_dtype()
    notes: list[str] = []
    base_path = base_spec_of(spec).path if spec.is_adapter else None
    weights = base_path or spec.path
    say(0.1, f"Loading the tokenizer of {spec.label}…")
    try:
        tok_dir = spec.path if (spec.path / "tokenizer_config.json").is_file() else weights
        tokenizer = AutoTokenizer.from_pretrained(tok_dir, **_gguf_file(spec))
    except Exception as e:
        raise ModelNotFoundError(f"The tokenizer of '{spec.label}' cannot be loaded: {type(e).__name__}: {e}"[:400],
                                 "Check that the model folder is complete.") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant, note = _quantization(spec, device)
    if note:
        notes.append(note)
    say(0.25, f"Loading the weights of {Path(weights).name if base_path else spec.label} on {device.upper()}…")
    kwargs: dict[str, Any] = {"dtype": dtype, **_gguf_file(spec)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0})
    try:
        model = AutoModelForCausalLM.from_pretrained(weights, **kwargs)
    except Exception as e:
        raise ModelNotFoundError(f"The model '{spec.label}' cannot be loaded: {type(e).__name__}: {e}"[:400],
                                 "Check that the folder holds a causal language model saved with save_pretrained().") from None
    if quant is None:
        model.to(device)
    if spec.is_adapter:
        say(0.8, "Loading the adapter…")
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec.path, is_trainable=False)
    model.eval()
    say(1.0, "Loaded.")
    m = InferenceModel(spec, model, tokenizer, device, base_path, notes, time.monotonic() - t0)
    log.info("loaded %s on %s in %.1f s", spec.label, device, m.load_seconds)
    return m


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

    def _acquire(self, spec: ModelSpec, progress: Progress | None) -> InferenceModel:
        key = spec.key
        while True:
            with self._cond:
                m = self._models.get(key)
                if m is not None:
                    m.active += 1
                    self._models.move_to_end(key)
                    if progress:
                        progress(1.0, "Already loaded.")
                    return m
                if key in self._loading:  # another request is loading it: wait for that
                    self._cond.wait(timeout=1.0)
                    continue
                self._loading[key] = spec.path
            break
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
        gone = []
        with self._cond:
            for key, m in list(self._models.items()):
                if len(self._models) <= keep:
                    break
                if m.active == 0:
                    del self._models[key]
                    gone.append(key)
        if gone:
            free_memory()
            log.info("released %s", ", ".join(gone))
        return gone

    def unload(self, ref_or_key: str | None = None) -> list[str]:
        """Release one model (by reference, id or folder) or all. A model still answering
        finishes its answer, then its memory is freed."""
        with self._cond:
            if ref_or_key is None:
                keys = list(self._models)
            else:
                keys = [k for k, m in self._models.items()
                        if ref_or_key in (k, m.spec.reference, m.spec.model_id)]
            for k in keys:
                del self._models[k]
        if keys:
            free_memory()
        return keys

    def loaded(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m.info() for m in self._models.values()]

    def get_loaded(self, key: str) -> InferenceModel | None:
        with self._cond:
            return self._models.get(key)

    def in_use(self, folder: str | Path) -> bool:
        """Whether a model in ``folder`` (or an adapter on it) is answering or loading now."""
        folder = Path(folder).resolve()

        def inside(p: Path | None) -> bool:
            if p is None:
                return False
            p = Path(p).resolve()
            return p == folder or p.is_relative_to(folder)

        with self._cond:
            if any(inside(p) for p in self._loading.values()):
                return True
            return any(m.active > 0 and any(inside(p) for p in m.paths()) for m in self._models.values())

    def release_folder(self, folder: str | Path) -> list[str]:
        """Release idle models loaded from ``folder`` (before its files are deleted)."""
        folder = Path(folder).resolve()
        with self._cond:
            keys = [k for k, m in self._models.items()
                    if any(Path(p).resolve() == folder or Path(p).resolve().is_relative_to(folder) for p in m.paths())]
            for k in keys:
                del self._models[k]
        if keys:
            free_memory()
        return keys




_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> ModelRegistry:
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = ModelRegistry()
        return _registry


def unload(ref: str | None = None) -> list[str]:
    return get_registry().unload(ref)


# ---- streaming -------------------------------------------------------------------------------

@dataclass
class GenerationStats:
    """Filled while an answer streams: tokens per row, time to the first token, duration."""

    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    finished: float | None = None
    tokens: list[int] = field(default_factory=list)
    stopped: bool = False

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        secs = self.seconds
        gen = (self.finished or 0) - (self.first_token or 0) if self.first_token and self.finished else None
        return {"tokens": list(self.tokens), "time_to_first_token": self.time_to_first_token, "seconds": secs,
                "tokens_per_second": round((max(self.tokens or [0]) - 1) / gen, 2) if gen and max(self.tokens or [0]) > 1
                else None, "stopped": self.stopped}


def _streamer_classes():
    from transformers import StoppingCriteria, TextIteratorStreamer

    class RowStreamer(TextIteratorStreamer):
        """A TextIteratorStreamer for one row of a batch, writing ``(row, text, ended)`` to a shared queue."""

        def __init__(self, tokenizer, row: int, out: queue.Queue):
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.row, self.out = row, out

        def on_finalized_text(self, text: str, stream_end: bool = False):
            self.out.put((self.row, text, stream_end))

    class EventStop(StoppingCriteria):
        """Ends generation as soon as one of the events is set."""

        def __init__(self, *events: threading.Event):
            self.events = [e for e in events if e is not None]

        def __call__(self, input_ids, scores, **kwargs):
            import torch

            stop = any(e.is_set() for e in self.events)
            return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

    return RowStreamer, EventStop


class _SplitStreamer:
    """A streamer (transformers' ``BaseStreamer`` interface: ``put``, ``end``) that hands each row of a
    batch to its own RowStreamer; a row ends at its end-of-sequence token."""

    def __init__(self, rows: list, eos: set[int], stats: GenerationStats, offset: int):
        self.rows, self.eos, self.stats, self.offset = rows, eos, stats, offset
        self.done = [False] * len(rows)
        self.prompt = True

    def put(self, value):
        value = value.cpu()
        if self.prompt:  # the first call carries the prompt
            self.prompt = False
            for i, s in enumerate(self.rows):
                s.put(value[i:i + 1])
            return
        value = value.reshape(len(self.rows), -1)
        for i, s in enumerate(self.rows):
            if not self.done[i]:
                self._put_row(i, s, value[i])

    def _put_row(self, i: int, s, row) -> None:
        tokens = row.tolist()
        if any(t in self.eos for t in tokens):
            self.done[i] = True
            s.end()
            return
        if self.stats.first_token is None:
            self.stats.first_token = time.perf_counter()
        self.stats.tokens[self.offset + i] += len(tokens)
        s.put(row)

    def end(self):
        for i, s in enumerate(self.rows):
            if not self.done[i]:
                self.done[i] = True
                s.end()


@dataclass
class _Request:
    """One ``generate`` call: a model and one conversation per output row. Two rows on an adapter
    make a mixed-adapter batch (``adapter_names``: row 0 through the adapter, row 1 without it)."""

    model: InferenceModel
    conversations: list[list[dict[str, str]]]
    adapter_names: list[str] | None = None

    @property
    def rows(self) -> int:
        return len(self.conversations)


def _batch(m: InferenceModel, conversations: list[list[dict[str, str]]], max_new_tokens: int) -> dict[str, Any]:
    """Token ids of one or more prompts; different prompts are padded on the left."""
    import torch

    if all(c == conversations[0] for c in conversations):
        enc = m.encode(conversations[0], max_new_tokens)
        return {k: v.repeat(len(conversations), 1) for k, v in enc.items()}
    encs = [m.encode(c, max_new_tokens) for c in conversations]
    width = max(e["input_ids"].shape[1] for e in encs)
    pad = m.tokenizer.pad_token_id if m.tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(encs), width), pad, dtype=encs[0]["input_ids"].dtype)
    mask = torch.zeros((len(encs), width), dtype=torch.long)
    for i, e in enumerate(encs):
        n = e["input_ids"].shape[1]
        ids[i, width - n:] = e["input_ids"][0]
        mask[i, width - n:] = 1
    return {"input_ids": ids, "attention_mask": mask}


class _Workers:
    """The generation threads of one streamed answer and what they share: the queue of text pieces,
    the errors they met, and the events that stop them and say they have all ended."""

    def __init__(self, stop: threading.Event | None):
        self.stop = stop
        self.out: queue.Queue = queue.Queue()
        self.halt = threading.Event()  # set when the consumer leaves: the threads stop at the next token
        self.finished = threading.Event()  # set when all threads end
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self._running = 0
        self._lock = threading.Lock()

    def stopped(self) -> bool:
        return (self.stop is not None and self.stop.is_set()) or self.halt.is_set()

    def add(self, m: InferenceModel, kwargs: dict[str, Any], streamer: _SplitStreamer) -> None:
        self._running += 1
        self.threads.append(threading.Thread(target=self._work, args=(m, kwargs, streamer), name="forge-generate",
                                             daemon=True))

    def _work(self, m: InferenceModel, kwargs: dict[str, Any], streamer: _SplitStreamer) -> None:
        import torch

        try:
            while not m.lock.acquire(timeout=0.05):  # one generation at a time on a model
                if self.stopped():  # a stop while waiting for another answer to finish
                    return
            try:
                if not self.stopped():
                    with torch.inference_mode():
                        m.model.generate(**kwargs)
            finally:
                m.lock.release()
        except BaseException as e:  # noqa: BLE001 — reported to the consumer
            self.errors.append(e)
            log.exception("generation failed")
        finally:
            streamer.end()
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self.finished.set()

    def take(self, block: bool) -> list[tuple[int, str, bool]]:
        items = [self.out.get()] if block else []
        while True:
            try:
                items.append(self.out.get_nowait())
            except queue.Empty:
                return items

    def collect(self, total: int, every: float) -> Iterator[tuple[int, str]]:
        """``(row, text piece)`` until all ``total`` rows have ended; ``every`` > 0 joins pieces (see
        :func:`_stream_requests`)."""
        ended, pending, last = 0, {}, 0.0
        while ended < total:
            if pending:  # (every > 0) wait until the next update is due or generation ends, not at every token
                self.finished.wait(max(0.0, last + every - time.monotonic()))
                items = self.take(False)
            else:
                items = [self.out.get()] if every <= 0 else self.take(True)
            for row, text, end in items:
                if text:
                    pending[row] = pending.get(row, "") + text
                ended += bool(end)
            if pending and (every <= 0 or time.monotonic() - last >= every or ended >= total):
                yield from pending.items()
                pending, last = {}, time.monotonic()


def _generate_kwargs(req: _Request, settings: GenerationSettings, streamer: _SplitStreamer,
                     stopping) -> dict[str, Any]:
    """``model.generate``'s arguments for one request: its batch, the streamer, the stop, the settings."""
    m = req.model
    enc = {k: v.to(m.model.device) for k, v in _batch(m, req.conversations, settings.max_new_tokens).items()}
    kwargs = dict(**enc, streamer=streamer, stopping_criteria=stopping, pad_token_id=m.tokenizer.pad_token_id,
                  **settings.generate_kwargs())
    limit = getattr(m.model.config, "max_position_embeddings", None)
    if limit:  # never past the model's context
        kwargs["max_new_tokens"] = max(1, min(settings.max_new_tokens, limit - enc["input_ids"].shape[1]))
    if req.adapter_names:
        kwargs["adapter_names"] = req.adapter_names
    return kwargs


def _stream_requests(requests: list[_Request], settings: GenerationSettings, stop: threading.Event | None,
                     stats: GenerationStats, every: float = 0.0) -> Iterator[tuple[int, str]]:
    """Run every request in its own thread; yield ``(row, text piece)`` as they come. ``every`` > 0:
    pieces arriving within that many seconds of the last yield are joined (the first never waits)."""
    from transformers import StoppingCriteriaList

    RowStreamer, EventStop = _streamer_classes()
    workers = _Workers(stop)
    total = sum(r.rows for r in requests)
    stats.tokens = [0] * total
    offset = 0
    for req in requests:
        rows = [RowStreamer(req.model.tokenizer, offset + i, workers.out) for i in range(req.rows)]
        streamer = _SplitStreamer(rows, req.model.eos_ids(), stats, offset)
        stopping = StoppingCriteriaList([EventStop(stop, workers.halt)])
        workers.add(req.model, _generate_kwargs(req, settings, streamer, stopping), streamer)
        offset += req.rows
    try:
        for t in workers.threads:
            t.start()
        yield from workers.collect(total, every)
        for t in workers.threads:  # every row has ended: the threads are returning
            t.join()
    finally:
        workers.halt.set()
        stats.finished = time.perf_counter()
        stats.stopped = bool(stop is not None and stop.is_set())
    if workers.errors:
        raise _generation_error(workers.errors[0])


def _generation_error(e: BaseException) -> ForgeError:
    if isinstance(e, ForgeError):
        return e
    if "out of memory" in str(e).lower():
        return ForgeError("The model ran out of memory while answering.",
                          "Lower max new tokens, shorten the conversation, or unload other models.")
    return ForgeError(f"Generation failed: {type(e).__name__}: {str(e)[:300]}")


def _settings(settings: GenerationSettings | dict | None) -> GenerationSettings:
    return settings if isinstance(settings, GenerationSettings) else GenerationSettings.from_dict(settings)


def stream(ref: str | ModelSpec, messages: list[dict[str, str]] | str,
           settings: GenerationSettings | dict | None = None,
           *, stop: threading.Event | None = None, sandbox: bool = False, progress: Progress | None = None,
           stats: GenerationStats | None = None, registry: ModelRegistry | None = None,
           every: float = 0.0) -> Iterator[str]:
    """Stream the answer to ``messages`` (a system prompt in ``settings`` is put first), piece by piece;
    ``messages`` as a string is a raw text prompt to continue (no chat template).
    ``every``: join the pieces that arrive within that many seconds (a page needs no more than ~20 updates a second)."""
    settings = _settings(settings)
    spec = ref if isinstance(ref, ModelSpec) else resolve_spec(ref, sandbox=sandbox)
    messages = _prompt(messages, settings)
    stats = stats if stats is not None else GenerationStats()
    with (registry or get_registry()).use(spec, progress) as m:
        stats.started = time.perf_counter()
        for _row, text in _stream_requests([_Request(m, [messages])], settings, stop, stats, every):
            yield text


def _prompt(messages: list[dict[str, str]] | str, settings: GenerationSettings) -> list[dict[str, str]] | str:
    return messages if isinstance(messages, str) else _with_system(normalize_messages(messages), settings.system_prompt)


def prompt_fit(ref: str | ModelSpec, messages: list[dict[str, str]] | str,
               settings: GenerationSettings | dict | None = None, *, sandbox: bool = False,
               progress: Progress | None = None, registry: ModelRegistry | None = None) -> tuple[int, int | None]:
    """How many tokens the prompt of ``messages`` takes, as :func:`stream` encodes it (not cut), and
    the model's context length (None when the model does not say). Loads the model when needed."""
    settings = _settings(settings)
    spec = ref if isinstance(ref, ModelSpec) else resolve_spec(ref, sandbox=sandbox)
    with (registry or get_registry()).use(spec, progress) as m:
        return m.encode(_prompt(messages, settings), truncate=False)["input_ids"].shape[1], m.context_length


class StopText:
    """Cuts streamed text before the first of ``stops`` (OpenAI's ``stop``). Text that could be the
    start of a stop string is held back until the next piece tells; ``hit`` is the stop string found."""

    def __init__(self, stops: list[str] | str | None = None):
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        self.stops = [s for s in stops if s]
        self.hit: str | None = None

    def cut(self, pieces: Iterator[str]) -> Iterator[str]:
        """``pieces`` up to (not including) the first stop string; then ``pieces`` is closed, which
        ends its generation."""
        buf = ""
        try:
            for piece in pieces:
                buf += piece
                at = self._find(buf)
                if at is not None:
                    if at:
                        yield buf[:at]
                    return
                ready = len(buf) - self._held(buf)
                if ready:
                    yield buf[:ready]
                    buf = buf[ready:]
            if buf:
                yield buf
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()

    def _find(self, text: str) -> int | None:
        found = [(text.find(s), s) for s in self.stops if s in text]
        if not found:
            return None
        at, self.hit = min(found)
        return at

    def _held(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins a stop string."""
        return max((k for s in self.stops for k in range(1, min(len(s), len(text) + 1))
                    if text.endswith(s[:k])), default=0)


def stream_compare(ref: str | ModelSpec, messages: list[dict[str, str]],
                   settings: GenerationSettings | dict | None = None, *, base_messages: list[dict] | None = None,
                   stop: threading.Event | None = None, sandbox: bool = False, progress: Progress | None = None,
                   stats: GenerationStats | None = None, registry: ModelRegistry | None = None,
                   every: float = 0.0) -> Iterator[tuple[int, str]]:
    """Stream the fine-tuned model's answer (row 0) and its base model's (row 1) side by side.

    ``base_messages`` is the base model's own conversation (default: ``messages``). An adapter
    answers both rows in one batch (PEFT's mixed-adapter batch), so the base costs no memory; a
    full or merged model is compared with its base model loaded beside it.
    """
    settings = _settings(settings)
    spec = ref if isinstance(ref, ModelSpec) else resolve_spec(ref, sandbox=sandbox)
    base = base_spec_of(spec)
    messages = _with_system(normalize_messages(messages), settings.system_prompt)
    base_messages = messages if base_messages is None else \
        _with_system(normalize_messages(base_messages), settings.system_prompt)
    stats = stats if stats is not None else GenerationStats()
    reg = registry or get_registry()
    with reg.use(spec, progress) as m:
        if m.has_adapter:
            stats.started = time.perf_counter()
            yield from _stream_requests([_Request(m, [messages, base_messages], ["default", BASE_ADAPTER])],
                                        settings, stop, stats, every)
            return
        with reg.use(base, progress) as b:
            stats.started = time.perf_counter()
            yield from _stream_requests([_Request(m, [messages]), _Request(b, [base_messages])], settings, stop, stats,
                                        every)


def _with_system(messages: list[dict[str, str]], system: str) -> list[dict[str, str]]:
    system = (system or "").strip()
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}] + messages
    return messages


def generate_text(ref: str | ModelSpec, messages: list[dict[str, str]], settings: GenerationSettings | dict | None = None,
                  **kw: Any) -> str:
    """The whole answer at once."""
    return "".join(stream(ref, messages, settings, **kw))


__all__ = ["GenerationSettings", "GenerationStats", "InferenceModel", "MODES", "ModelRegistry", "ModelSpec",
           "StopText", "base_model_choices", "base_spec_of", "build_messages", "device_and_dtype", "generate_text", "get_registry", "load_model", "mode_for_task", "model_choices",
           "normalize_messages", "plain_content", "prompt_fit", "resolve_spec", "spec_from_record", "stream", "stream_compare",
           "unload"]
