"""The memory and disk a run will need, estimated before it starts from its RunConfig as the
strategy prepares it (profile defaults filled in, the strategy's own changes made): the one
estimate the form shows and the run logs. Reads the model's config.json only (no weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .config import RunConfig
from .hardware import DiskEstimate, Hardware, MemoryEstimate, ModelShape, estimate_memory

# SmolLM2-135M's shape, for an estimate before the embedded model has been unpacked.
EMBEDDED_SHAPE = dict(hidden_size=576, num_hidden_layers=30, vocab_size=49152, intermediate_size=1536,
                      num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)


def training_bits(config: Any) -> int:
    """The bits a run's weights train in: 4 or 8 when quantized, 16 in bf16/fp16, else 32."""
    return 4 if config.use_4bit else 8 if config.use_8bit else 16 if (config.bf16 or config.fp16) else 32


def holds_reference_model(config: Any) -> bool:
    """Whether the run keeps a frozen copy of the model as its reference: the strategy says so
    (``reference_model``), and only when fully fine-tuning (with LoRA the reference is the same
    weights with the adapter switched off)."""
    from .strategies import STRATEGIES

    return bool(getattr(STRATEGIES.get(config.strategy), "reference_model", False)) and not config.lora_r


def estimate_run_memory(config: Any, shape: ModelShape, hw: Hardware | None = None,
                        num_processes: int = 1) -> MemoryEstimate:
    """The peak-memory estimate of a run's config as it will train (profile defaults filled in and
    the strategy's own changes made): the one number the form shows and the run logs."""
    return estimate_memory(shape, lora_r=config.lora_r, bits=training_bits(config),
                           batch_size=config.per_device_train_batch_size or 1, seq_len=config.max_seq_length or 512,
                           gradient_checkpointing=bool(config.gradient_checkpointing),
                           reference_model=holds_reference_model(config), hw=hw,
                           num_processes=num_processes, distributed=config.distributed)


@dataclass
class RunEstimate:
    """A run's estimate, or why there is none (``reason``; the other fields are then None)."""

    reason: str = ""
    shape: ModelShape | None = None
    config: RunConfig | None = None  # the config as it will train
    memory: MemoryEstimate | None = None
    disk: DiskEstimate | None = None
    num_processes: int = 1

    @property
    def bits(self) -> int:
        return training_bits(self.config)

    @property
    def warning(self) -> bool:
        """Whether the run will likely not fit (in memory or on disk)."""
        return bool(self.memory and self.memory.warning or self.disk and self.disk.warning)


def model_config(ref: str) -> dict[str, Any] | None:
    """The model's config.json as a dict, without loading the model (None when unknown here).
    ``ref`` is a checked reference: the embedded default, a folder, or a Hub id."""
    from .catalog import is_embedded
    from .settings import get_settings

    if is_embedded(ref):
        p = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct" / "config.json"
        return json.loads(p.read_text()) if p.is_file() else dict(EMBEDDED_SHAPE)
    path = Path(ref).expanduser()
    if path.is_dir():
        return _folder_config(path, ref)
    try:
        return _hub_config(ref)
    except Exception:  # no network, no such repo, a broken cache: no estimate, not an error
        return None


def _folder_config(path: Path, ref: str) -> dict[str, Any] | None:
    if (path / "config.json").is_file():
        return json.loads((path / "config.json").read_text())
    if (path / "adapter_config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return model_config(base) if base and base != ref else None
    return None


def _hub_config(ref: str) -> dict[str, Any] | None:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(ref, "config.json")
    if isinstance(cached, str):
        return json.loads(Path(cached).read_text())
    from .catalog import hub_reachable

    if hub_reachable(1.0):
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(ref, "config.json")).read_text())
    return None


def model_shape(ref: str) -> ModelShape | str:
    """The shape of a checked model reference, or why it is not known here."""
    cfg = model_config(ref)
    if not cfg:
        return "No estimate for this model yet: its config is not on this machine (it is read when the run starts)."
    cfg = cfg.get("text_config", cfg) if "hidden_size" not in cfg else cfg
    shape = ModelShape.from_config(SimpleNamespace(**cfg))
    return shape if shape.n_params else "No estimate for this model: its config does not describe its size."


def processes(num_processes: Any, hw: Hardware) -> int:
    """The training processes a run starts: the number asked for, else one per GPU (1 on a CPU)."""
    try:
        n = int(str(num_processes or "").strip() or 0)
    except ValueError:
        n = 0
    return n or max(1, len(hw.gpus))


def prepared_config(config: RunConfig, hw: Hardware) -> RunConfig:
    """The config as it will train: the profile's defaults filled in, then the strategy's own changes."""
    from .config import resolve_defaults
    from .hardware import profile_defaults
    from .strategies import get_strategy

    return get_strategy(config.strategy).prepare_config(resolve_defaults(config, profile_defaults(hw)))


def estimate_run(config: RunConfig, hw: Hardware, model_ref: str | None = None,
                 num_processes: int | None = None) -> RunEstimate:
    """Peak memory and disk of ``config`` on ``hw`` (``model_ref``: the checked model reference,
    by default the config's model)."""
    from .hardware import estimate_run_disk
    from .settings import get_settings

    shape = model_shape(model_ref or config.model_name)
    if isinstance(shape, str):
        return RunEstimate(reason=shape)
    n = num_processes or processes(config.num_processes, hw)
    try:
        prepared = prepared_config(config, hw)
        memory = estimate_run_memory(prepared, shape, hw, num_processes=n)
    except Exception as e:  # a strategy or a profile that cannot prepare this config
        return RunEstimate(reason=f"No estimate: {type(e).__name__}")
    disk = estimate_run_disk(prepared, shape, get_settings().home)
    return RunEstimate(shape=shape, config=prepared, memory=memory, disk=disk, num_processes=n)
