"""Serving fine-tuned models to other programs: an OpenAI-compatible endpoint on the app's server
(:mod:`.openai_api`) and who may call it (:mod:`.auth`)."""

from .auth import AppOptions

__all__ = ["AppOptions"]
