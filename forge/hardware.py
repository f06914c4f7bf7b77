"""What this machine has, the profile that sets run defaults, and a peak-memory estimate.

Profiles: ``cpu`` (no accelerator: fp32, small batch, short run), ``low`` (GPU under 12 GiB),
``mid`` (12 to 32 GiB), ``high`` (over 32 GiB).
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

GiB = 1024**3


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    memory_gb: float
    bf16: bool


@dataclass(frozen=True)
class Hardware:
    cpu_name: str
    cpu_count: int
    ram_gb: float
    gpus: tuple[GPU, ...] = field(default_factory=tuple)
    mps: bool = False

    @property
    def device(self) -> str:
        return "cuda" if self.gpus else ("mps" if self.mps else "cpu")

    @property
    def bf16(self) -> bool:
        return bool(self.gpus) and all(g.bf16 for g in self.gpus)

    @property
    def accelerator_memory_gb(self) -> float:
        """Memory of the device a run trains on (the first GPU; RAM on CPU and MPS)."""
        return self.gpus[0].memory_gb if self.gpus else self.ram_gb

    @property
    def profile(self) -> str:
        if not self.gpus:
            return "cpu"
        mem = self.gpus[0].memory_gb
        return "low" if mem < 12 else ("mid" if mem <= 32 else "high")

    def device_text(self, *, cpu_name: bool = False) -> str:
        """What a run trains on, in words: the GPUs with their memory, the Apple GPU, or the CPU
        (with its model name when ``cpu_name``)."""
        if self.gpus:
            return ", ".join(f"{g.name} ({g.memory_gb:.0f} GiB)" for g in self.gpus)
        if self.mps:
            return "Apple GPU (MPS)"
        return f"CPU only: {self.cpu_name} ({self.cpu_count} cores)" if cpu_name else f"CPU only ({self.cpu_count} cores)"

    def summary(self) -> str:
        return (f"{self.device_text()} · RAM {self.ram_gb:.0f} GiB · profile {self.profile}"
                + (" · bf16" if self.bf16 else ""))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(device=self.device, profile=self.profile, bf16=self.bf16)
        return d


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB
    except (ValueError, OSError, AttributeError):
        return 0.0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def detect() -> Hardware:
    """Probe the machine once (imports torch)."""
    import torch

    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append(GPU(i, p.name, round(p.total_memory / GiB, 1), bool(p.major >= 8)))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return Hardware(_cpu_name(), os.cpu_count() or 1, round(_ram_gb(), 1), tuple(gpus), mps)


PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "cpu": dict(per_device_train_batch_size=4, gradient_accumulation_steps=1, max_seq_length=256,
                max_steps=60, bf16=False, fp16=False, gradient_checkpointing=False, eval_max_rows=64),
    "low": dict(per_device_train_batch_size=2, gradient_accumulation_steps=8, max_seq_length=1024,
                max_steps=-1, gradient_checkpointing=True, eval_max_rows=256),
    "mid": dict(per_device_train_batch_size=8, gradient_accumulation_steps=2, max_seq_length=2048,
                max_steps=-1, gradient_checkpointing=True, eval_max_rows=256),
    "high": dict(per_device_train_batch_size=16, gradient_accumulation_steps=1, max_seq_length=4096,
                 max_steps=-1, gradient_checkpointing=False, eval_max_rows=256),
}


def profile_defaults(hw: Hardware | None = None) -> dict[str, Any]:
    hw = hw or detect()
    d = dict(PROFILE_DEFAULTS[hw.profile])
    if hw.gpus:
        d["bf16"] = hw.bf16
        d["fp16"] = not hw.bf16
    return d


# ---- memory estimate ----------------------------------------------------------------------

@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know of a model."""

    n_params: int
    hidden_size: int
    num_layers: int
    vocab_size: int

    @classmethod
    def from_config(cls, cfg: Any) -> "ModelShape":
        def get(*names, default=0):
            return next((getattr(cfg, n) for n in names if getattr(cfg, n, None)), default)
        hidden = get("hidden_size", "n_embd", "d_model")
        layers = get("num_hidden_layers", "n_layer", "num_layers")
        vocab = get("vocab_size")
        inter = get("intermediate_size", default=4 * hidden)
        heads = get("num_attention_heads", default=1)
        kv = get("num_key_value_heads", default=heads)
        head_dim = hidden // max(heads, 1)
        attn = hidden * hidden * 2 + 2 * hidden * kv * head_dim
        mlp = 3 * hidden * inter
        emb = vocab * hidden * (1 if getattr(cfg, "tie_word_embeddings", False) else 2)
        return cls(int(layers * (attn + mlp) + emb), hidden, layers, vocab)


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gb: float
    trainable_gb: float
    optimizer_gb: float
    activations_gb: float
    total_gb: float
    available_gb: float
    fits: bool
    warning: str | None

    def summary(self) -> str:
        s = (f"≈ {self.total_gb:.2f} GiB peak (weights {self.weights_gb:.2f}, gradients+optimizer "
             f"{self.trainable_gb + self.optimizer_gb:.2f}, activations {self.activations_gb:.2f}) "
             f"of {self.available_gb:.0f} GiB")
        return s + (f"\n⚠️ {self.warning}" if self.warning else "")


def estimate_memory(shape: ModelShape, *, lora_r: int = 16, bits: int = 32, batch_size: int = 1,
                    seq_len: int = 512, gradient_checkpointing: bool = False, reference_model: bool = False,
                    hw: Hardware | None = None, num_processes: int = 1, distributed: str = "ddp") -> MemoryEstimate:
    """Rough peak training memory of one process.

    Weights: params × bytes per weight (4, 2, 1 or 0.5 for 32/16/8/4 bits). Trainable
    parameters (all of them for full fine-tuning, about ``2·r·hidden`` per adapted linear layer
    for LoRA) cost 4 bytes of fp32 master weight, 4 of gradient and 8 of Adam state.
    Activations: about ``34·hidden + 5·heads·seq`` bytes per token per layer in 16 bits
    (Korthikanti et al.), scaled for fp32 and reduced to one layer's worth with gradient
    checkpointing, plus the logits (batch × seq × vocab × 4 bytes, twice for the loss).
    Under several processes (``num_processes``) DDP keeps a whole copy in each; ZeRO-2 shards the
    gradients and optimizer state across them; FSDP and ZeRO-3 shard the weights too.
    """
    bytes_per_weight = {32: 4.0, 16: 2.0, 8: 1.0, 4: 0.5}[bits]
    weights = shape.n_params * bytes_per_weight
    if reference_model:
        weights *= 2
    if lora_r > 0:
        trainable = shape.num_layers * 7 * 2 * lora_r * shape.hidden_size  # q,k,v,o,gate,up,down
    else:
        trainable = shape.n_params
    grads_master = trainable * 8.0  # fp32 weight copy + gradient
    optimizer = trainable * 8.0  # Adam moments
    shards = max(1, num_processes)
    if distributed in ("fsdp", "deepspeed_zero3"):
        weights, grads_master, optimizer = weights / shards, grads_master / shards, optimizer / shards
    elif distributed == "deepspeed_zero2":
        grads_master, optimizer = grads_master / shards, optimizer / shards
    tokens = batch_size * seq_len
    act_per_layer = tokens * shape.hidden_size * 34 * (2 if bits == 32 and lora_r == 0 else 1)
    layers = 1 if gradient_checkpointing else shape.num_layers
    activations = act_per_layer * layers + tokens * shape.vocab_size * 4 * 2
    overhead = 0.3 * GiB if (hw and hw.gpus) else 0.5 * GiB
    total = weights + grads_master + optimizer + activations + overhead
    hw = hw or detect()
    avail = hw.accelerator_memory_gb
    total_gb = total / GiB
    fits = total_gb <= avail * 0.95
    warning = None
    if not fits:
        warning = (f"This run needs about {total_gb:.1f} GiB but {hw.device.upper()} has {avail:.1f} GiB: "
                   "it will likely run out of memory. Lower the batch size or sequence length, "
                   "use LoRA instead of full fine-tuning, or 4-bit quantization (qlora).")
    return MemoryEstimate(weights / GiB, grads_master / GiB, optimizer / GiB, activations / GiB, total_gb,
                          avail, fits, warning)


def free_memory() -> None:
    """Give released tensors' memory back (Python's collector, then the CUDA cache)."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


@dataclass(frozen=True)
class DiskEstimate:
    """What a run leaves on disk: its saved model and the checkpoints it keeps (each holds the
    trained weights and the optimizer state, so that the run can resume)."""

    model_gb: float
    checkpoint_gb: float
    checkpoints: int
    total_gb: float
    free_gb: float | None

    @property
    def warning(self) -> str | None:
        if self.free_gb is not None and self.total_gb > self.free_gb:
            return (f"This run writes about {self.total_gb:.1f} GiB but the disk has {self.free_gb:.1f} GiB free: "
                    "keep fewer checkpoints (save_total_limit), use LoRA, or free space (Storage, below).")
        return None

    def summary(self) -> str:
        return (f"≈ {self.total_gb:.2f} GiB on disk (model {self.model_gb:.2f}, up to {self.checkpoints} "
                f"checkpoint(s) of {self.checkpoint_gb:.2f})" + (f" of {self.free_gb:.0f} GiB free"
                                                                   if self.free_gb is not None else ""))


def estimate_run_disk(config: Any, shape: ModelShape, folder: Any = None) -> DiskEstimate:
    """The disk a run will take: the saved model (the adapter, or the whole model in its training
    precision) plus ``save_total_limit`` checkpoints of trained weights, fp32 Adam state and, for a
    full fine-tune, the model's weights."""
    import shutil

    bytes_per_weight = 2.0 if (config.bf16 or config.fp16) else 4.0
    if config.lora_r:
        trainable = shape.num_layers * 7 * 2 * config.lora_r * shape.hidden_size
        model = trainable * 4.0
    else:
        trainable = shape.n_params
        model = shape.n_params * bytes_per_weight
    checkpoint = model + trainable * 8.0  # the weights as saved plus Adam's two fp32 moments
    kept = max(1, int(config.save_total_limit or 1))
    free = None
    if folder is not None:
        try:
            free = shutil.disk_usage(folder).free / GiB
        except OSError:
            free = None
    return DiskEstimate(model / GiB, checkpoint / GiB, kept, (model + kept * checkpoint) / GiB, free)
