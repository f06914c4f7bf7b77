"""ModelForge: a studio for fine-tuning language models without code.

The engine (everything in this package except ``forge.ui``) never imports gradio, and
imports heavy ML libraries (torch, transformers, trl, peft, bitsandbytes) only inside the
functions that need them, so that the page comes up in seconds.

One exception: Unsloth must be imported before transformers, TRL and PEFT, so when it is
installed and will be used (an NVIDIA GPU, or ``MODELFORGE_UNSLOTH_CPU=1``) it is imported
here, first; see ``forge/providers/unsloth.py`` for why and what it costs.
"""

__version__ = "0.1.0"

import importlib.util as _importlib_util

if _importlib_util.find_spec("unsloth") is not None:
    from .providers.unsloth import preload as _preload_unsloth

    _preload_unsloth()
