"""The Hugging Face token: which one is used, where it comes from, and keeping it out of text.

The token comes from the caller (the page's field, the API's ``token`` argument) or from
``HUGGINGFACE_TOKEN`` / ``HF_TOKEN``. It lives in memory only: nothing in ModelForge writes it to
the run store, run folders, logs, configs or model cards, and messages pass through :func:`scrub`.
"""

from __future__ import annotations

import os
import re

from ..errors import HubError
from ..settings import get_settings
from .reach import switched_off

TOKEN_ENV = ("HUGGINGFACE_TOKEN", "HF_TOKEN")
_TOKEN_LIKE = re.compile(r"\bhf_[A-Za-z0-9]{8,}\b")


def resolve_token(token: str | None = None) -> str | None:
    """The token to use: the one given, else ``HUGGINGFACE_TOKEN`` or ``HF_TOKEN``; None when none."""
    token = (token or "").strip()
    if token:
        return token
    for name in TOKEN_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def token_source(token: str | None = None) -> str | None:
    """Where the token in use comes from: ``field``, the environment variable's name, or None."""
    if (token or "").strip():
        return "field"
    return next((name for name in TOKEN_ENV if os.environ.get(name, "").strip()), None)


def scrub(text: str, token: str | None = None) -> str:
    """``text`` with ``token`` and anything shaped like a Hugging Face token replaced by ``hf_***``."""
    text = str(text)
    if token:
        text = text.replace(token, "hf_***")
    return _TOKEN_LIKE.sub("hf_***", text)


def need_token(token: str | None, action: str) -> str:
    """The token, or why the action cannot go on (with the Hub switched off, that first: asking
    for a token would not help)."""
    if not token and get_settings().offline:
        raise switched_off()
    if not token:
        raise HubError(f"{action} needs a Hugging Face token, and none is set.",
                       "Paste a token with write access (huggingface.co/settings/tokens) into the Hub tab's token "
                       "field, or set HF_TOKEN in the environment before starting ModelForge.")
    return token
