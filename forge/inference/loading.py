"""Loading a model for answering: base weights (plus a LoRA adapter), its tokenizer, on the best device."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ModelNotFoundError
from ..refs import ModelSpec, base_spec_of, run_config
from .generation import context_length, encode
from .prompts import Prompt

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


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

    @property
    def context_length(self) -> int | None:
        """How many tokens the model reads at most (prompt and answer together), when it says."""
        return context_length(self.model)

    def encode(self, prompt: Prompt, max_new_tokens: int = 0, *, truncate: bool = True) -> dict[str, Any]:
        """Token ids of one prompt, as :func:`.generation.encode` makes them for a batch."""
        return encode(self.tokenizer, [prompt], context_length=self.context_length, max_new_tokens=max_new_tokens,
                      truncate=truncate)

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
    from ..config import parse_config
    from ..providers.huggingface import quantization_config

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


def _tokenizer(spec: ModelSpec, weights: Path):
    from transformers import AutoTokenizer

    try:
        tok_dir = spec.path if (spec.path / "tokenizer_config.json").is_file() else weights
        tokenizer = AutoTokenizer.from_pretrained(tok_dir, **_gguf_file(spec))
    except Exception as e:
        raise ModelNotFoundError(f"The tokenizer of '{spec.label}' cannot be loaded: {type(e).__name__}: {e}"[:400],
                                 "Check that the model folder is complete.") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _weights(spec: ModelSpec, weights: Path, device: str, dtype, quant):
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, **_gguf_file(spec)}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0})
    try:
        model = AutoModelForCausalLM.from_pretrained(weights, **kwargs)
    except Exception as e:
        raise ModelNotFoundError(f"The model '{spec.label}' cannot be loaded: {type(e).__name__}: {e}"[:400],
                                 "Check that the folder holds a causal language model saved with save_pretrained().") from None
    return model if quant is not None else model.to(device)


def load_model(spec: ModelSpec, progress: Progress | None = None) -> InferenceModel:
    """Load a model (and its adapter) for generation."""
    say = progress or (lambda f, m: None)
    t0 = time.monotonic()
    device, dtype = device_and_dtype()
    base_path = base_spec_of(spec).path if spec.is_adapter else None
    weights = base_path or spec.path
    say(0.1, f"Loading the tokenizer of {spec.label}…")
    tokenizer = _tokenizer(spec, weights)
    quant, note = _quantization(spec, device)
    say(0.25, f"Loading the weights of {Path(weights).name if base_path else spec.label} on {device.upper()}…")
    model = _weights(spec, weights, device, dtype, quant)
    if spec.is_adapter:
        say(0.8, "Loading the adapter…")
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec.path, is_trainable=False)
    model.eval()
    say(1.0, "Loaded.")
    m = InferenceModel(spec, model, tokenizer, device, base_path, [note] if note else [], time.monotonic() - t0)
    log.info("loaded %s on %s in %.1f s", spec.label, device, m.load_seconds)
    return m
