"""Inference: load a base model (plus a LoRA adapter) once, keep it, and answer with it.

Each file does one job:

* ``sampling``   :class:`GenerationSettings` (how an answer is sampled, checked);
* ``prompts``    the messages of a request (:func:`build_messages`) and their text through the chat template;
* ``generation`` the one generation path: a batch padded by the tokenizer (on the left) → ``model.generate``;
  evaluation's whole answers (:func:`generate`);
* ``loading``    :func:`load_model` → :class:`InferenceModel` (device, dtype, adapter, QLoRA base, GGUF);
* ``registry``   :class:`ModelRegistry`: the loaded models of this process, kept between requests;
* ``streamers``, ``streaming``  :func:`stream`, :func:`stream_compare` (fine-tuned and base side by side),
  :func:`prompt_fit`, :func:`generate_text`; ``stops``  :class:`StopText` (OpenAI's ``stop``);
* ``choices``    which models can answer (the pickers, ``/v1/models``).

What a model reference stands for is :mod:`forge.refs`' job.
"""

from __future__ import annotations

from .choices import base_model_choices, model_choices
from .generation import generate
from .loading import InferenceModel, device_and_dtype, load_model
from .prompts import MODES, build_messages, mode_for_task, normalize_messages, plain_content, with_system
from .registry import ModelRegistry, get_registry, unload
from .sampling import GenerationSettings
from .stops import StopText
from .streamers import GenerationStats
from .streaming import generate_text, prompt_fit, stream, stream_compare

__all__ = ["MODES", "GenerationSettings", "GenerationStats", "InferenceModel", "ModelRegistry", "StopText",
           "base_model_choices", "build_messages", "device_and_dtype", "generate", "generate_text",
           "get_registry", "load_model", "mode_for_task", "model_choices", "normalize_messages", "plain_content",
           "prompt_fit", "stream", "stream_compare", "unload", "with_system"]
