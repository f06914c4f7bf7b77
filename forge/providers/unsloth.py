"""The unsloth provider: Unsloth's ``FastLanguageModel`` (fast kernels, less memory) on NVIDIA GPUs.

Installing: Unsloth is not in ``requirements.txt`` (it pins older transformers, trl and
datasets, and adds about 1 GB); GPU machines add it with ``pip install -r
requirements-gpu.txt``, and ``scripts/setup_unsloth.sh`` builds a separate ``.venv-unsloth``.
Without a CUDA GPU the provider reports itself unavailable, unless ``MODELFORGE_UNSLOTH_CPU=1``
turns on Unsloth's CPU fallback (stock transformers + PEFT with Unsloth's CPU trainer
defaults; slow, and used by CI to train through this provider on a CPU-only machine).
``MODELFORGE_UNSLOTH=0`` turns the provider (and the start-up import below) off entirely.

Strategies: on a GPU Unsloth patches TRL's SFT, DPO, ORPO, KTO and GRPO trainers, so the
``sft`` and ``qlora`` strategies and those alignment methods can use this provider. Its CPU
fallback trains with ``SFTTrainer`` only (``sft``, ``qlora``).

Import order (decided here, and why)
------------------------------------
Unsloth patches transformers, TRL and PEFT when it is imported; imported after them, its
patches are incomplete. Seen here: with Unsloth installed on a CPU machine, TRL 1.15's
``SFTTrainer`` always computes its loss with a Triton kernel (Triton comes with Unsloth) and
crashes with "0 active drivers" -- for the huggingface provider too -- unless Unsloth's CPU
backend was imported first and re-routed that kernel.

We import Unsloth first, at start-up (``forge/__init__.py`` calls :func:`preload`), rather
than running Unsloth runs in a fresh process, because:

* it is Unsloth's own documented contract ("``import unsloth`` at the top of your file") and
  the only one that also repairs TRL for huggingface runs in the same environment;
* the Job stays one thread in the page's process, reading and writing one event log, as the
  design says; a child process would need its own event relay, stop signal and error path;
* the cost is paid only where Unsloth is installed *and* will be used (a CUDA driver is
  present, or ``MODELFORGE_UNSLOTH_CPU=1``): ``import unsloth`` takes about 6.5 s on this
  2-core CPU machine, most of which is importing torch, transformers, TRL and PEFT, which
  the first run needs anyway (those four alone take about 6.7 s). Elsewhere ``import forge``
  stays at a few milliseconds and imports no torch.

The price: with Unsloth loaded, huggingface runs in the same process also go through
Unsloth's patched TRL trainers. Set ``MODELFORGE_UNSLOTH=0`` to keep a process free of it.
When something imported transformers, TRL or PEFT before ``forge`` (a user's own script),
:func:`preload` still imports Unsloth but records it as late, and the run's log says so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import env_flag
from .base import LoadedModel, prepare_tokenizer

if TYPE_CHECKING:  # annotations only: the config imports the providers (to check `provider`), not the reverse
    from ..catalog import ResolvedModel
    from ..config import RunConfig


log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -r requirements-gpu.txt"
CPU_FLAG = "MODELFORGE_UNSLOTH_CPU"
OFF_FLAG = "MODELFORGE_UNSLOTH"

# config.json model_type values that Unsloth's FastLanguageModel / FastModel train.
SUPPORTED_MODEL_TYPES = (
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "gemma", "gemma2", "gemma3", "gemma3_text", "phi3", "granite", "cohere", "falcon_h1",
)
# Strategies whose trainer Unsloth patches on a GPU; its CPU fallback runs SFTTrainer only.
GPU_STRATEGIES = ("sft", "qlora", "dpo", "orpo", "kto", "grpo")
CPU_STRATEGIES = ("sft", "qlora")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Libraries Unsloth must be imported before.
PATCHED_LIBRARIES = ("transformers", "trl", "peft")


@dataclass
class PreloadState:
    status: str | None = None  # None (not tried) | ok | late | failed | missing | off | skipped
    detail: str = ""
    seconds: float | None = None


_state = PreloadState()


def disabled() -> bool:
    return os.environ.get(OFF_FLAG, "").strip().lower() in {"0", "false", "no", "off"}


def cpu_allowed() -> bool:
    return env_flag(CPU_FLAG)


def installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def cuda_driver_present() -> bool:
    """A cheap guess (no torch import) whether this machine has an NVIDIA GPU in view."""
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is not None and "".join(mask.split()) in ("", "-1"):
        return False
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version")
    return shutil.which("nvidia-smi") is not None


def preload() -> PreloadState:
    """Import Unsloth now, before transformers, TRL and PEFT, when it is installed and will be
    used (a CUDA driver is present, or ``MODELFORGE_UNSLOTH_CPU=1``). Idempotent; never raises.

    Called from ``forge/__init__.py``, so any process that imports ``forge`` before those
    libraries gets Unsloth's patches complete. Returns the state: ``ok``, ``late`` (imported,
    but after one of transformers/TRL/PEFT), ``failed`` (with the error in ``detail``),
    ``missing``, ``off`` (``MODELFORGE_UNSLOTH=0``) or ``skipped`` (no GPU and no CPU flag).
    """
    if _state.status in ("ok", "late", "failed", "off"):
        return _state
    if "unsloth" in sys.modules:  # someone imported it already
        _state.status, _state.detail = "ok", "imported before forge"
        return _state
    if disabled():
        _state.status, _state.detail = "off", f"turned off by {OFF_FLAG}=0"
        return _state
    if not installed():
        _state.status, _state.detail = "missing", "not installed"
        return _state
    if not (cpu_allowed() or cuda_driver_present()):
        _state.status, _state.detail = "skipped", "no NVIDIA GPU in view"
        return _state
    early = [m for m in PATCHED_LIBRARIES if m in sys.modules]
    # Unsloth downloads a statistics file from the Hub on each model load; a studio that must
    # work offline does not phone home behind the user's back.
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # its banner must not mix into CLI output
            import unsloth  # noqa: F401
    except Exception as e:  # a broken install must not stop the page from starting
        _state.status, _state.detail = "failed", f"{type(e).__name__}: {e}"
        log.warning("Importing unsloth failed; the unsloth provider is off: %s", _state.detail)
    else:
        if early:
            _state.status = "late"
            _state.detail = (f"unsloth was imported after {', '.join(early)}, so its patches are incomplete; "
                             "import forge (or unsloth) before them")
            log.warning("%s", _state.detail)
        else:
            _state.status, _state.detail = "ok", ""
    _state.seconds = time.perf_counter() - t0
    log.info("import unsloth: %s in %.1f s", _state.status, _state.seconds)
    return _state


def preload_state() -> PreloadState:
    return _state


def model_type(resolved: ResolvedModel) -> str | None:
    try:
        return json.loads((resolved.path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


def target_modules(config: RunConfig) -> list[str]:
    """The RunConfig's LoRA target modules, with 'all-linear' spelled out (Unsloth wants names)."""
    if config.target_modules == "all-linear":
        return list(ALL_LINEAR)
    return list(config.target_modules)


def torch_dtype(config: RunConfig):
    """bf16/fp16 when the config asks; fp32 when it turned both off; None lets Unsloth choose."""
    import torch

    if config.bf16:
        return torch.bfloat16
    if config.fp16:
        return torch.float16
    if config.bf16 is False and config.fp16 is False:
        return torch.float32
    return None


class UnslothProvider:
    name = "unsloth"
    description = ("Unsloth's FastLanguageModel: fused kernels, about 2x faster training with less memory on "
                   f"NVIDIA GPUs; trains {', '.join(GPU_STRATEGIES)} ({INSTALL_HINT})")

    def available(self) -> tuple[bool, str]:
        if disabled():
            return False, f"turned off by {OFF_FLAG}=0"
        if not installed():
            return False, f"Unsloth is not installed; on a GPU machine: {INSTALL_HINT}"
        import torch

        if not torch.cuda.is_available() and not cpu_allowed():
            return False, (f"no CUDA GPU found (Unsloth trains on NVIDIA GPUs; {CPU_FLAG}=1 allows its slow "
                           "CPU fallback)")
        state = preload()
        if state.status == "failed":
            return False, f"importing unsloth failed: {state.detail}"
        return True, ""

    def _on_cpu(self) -> bool:
        import torch

        return not torch.cuda.is_available()

    def supports(self, resolved: ResolvedModel, config: RunConfig) -> tuple[bool, str]:
        if resolved.is_adapter:
            return False, "continuing from a saved LoRA adapter is not supported by the unsloth provider"
        mtype = model_type(resolved)
        if mtype not in SUPPORTED_MODEL_TYPES:
            return False, (f"Unsloth does not support the '{mtype or 'unknown'}' architecture "
                           f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
        return self.trains(config.strategy)

    def strategies(self) -> tuple[str, ...]:
        """The strategies Unsloth trains on this machine: its GPU set, or SFTTrainer only on its CPU fallback."""
        return CPU_STRATEGIES if (cpu_allowed() and installed() and self._on_cpu()) else GPU_STRATEGIES

    def trains(self, strategy: str) -> tuple[bool, str]:
        strategies = self.strategies()
        if strategy not in strategies:
            return False, f"Unsloth does not train the '{strategy}' strategy here (it does: {', '.join(strategies)})"
        return True, ""

    def load(self, resolved: ResolvedModel, config: RunConfig) -> LoadedModel:
        from ..errors import UnavailableError

        ok, why = self.available()
        if ok:
            ok, why = self.supports(resolved, config)
        if not ok:
            raise UnavailableError(f"The unsloth provider cannot load {resolved.reference}: {why}",
                                   "Choose the huggingface provider (or auto) for this run.")
        state = preload()
        from unsloth import FastLanguageModel

        full = config.lora_r == 0
        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=str(resolved.path),
            max_seq_length=config.max_seq_length or 2048,
            dtype=torch_dtype(config),
            load_in_4bit=config.use_4bit,
            load_in_8bit=config.use_8bit,
            full_finetuning=full,
            use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        )
        notes = [f"loaded with Unsloth's FastLanguageModel ({'GPU kernels' if not self._on_cpu() else 'CPU fallback'})"]
        if state.status == "late":
            notes.append(f"warning: {state.detail}")
        if config.use_4bit:
            notes.append("loaded in 4-bit by Unsloth")
        if not full:
            modules = target_modules(config)
            model = FastLanguageModel.get_peft_model(
                model,
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=modules,
                use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
                random_state=config.seed,
            )
            notes.append(f"LoRA r={config.lora_r} on {', '.join(modules)} applied by Unsloth"
                         + (" with Unsloth gradient checkpointing" if config.gradient_checkpointing else ""))
        return LoadedModel(model, prepare_tokenizer(tokenizer), self.name, peft_applied=not full, notes=notes)
