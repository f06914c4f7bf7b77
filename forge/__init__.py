"""ModelForge: a studio for fine-tuning language models without code.

The engine (everything in this package except ``forge.ui``) never imports gradio, and
imports heavy ML libraries (torch, transformers, trl, peft, bitsandbytes) only inside the
functions that need them, so that the page comes up in seconds.
"""

__version__ = "0.1.0"
