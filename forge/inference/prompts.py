"""Prompts: the messages of one request, and their text through the model's chat template.

Task modes build their messages with :func:`forge.data.tasks.prompt_messages`, exactly as the
training rows were; the text goes through the chat template saved with the model (the one it was
trained with).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

MODES = ("chat", "summarization", "extractive-qa")
Prompt = list[dict[str, str]] | str  # chat messages, or a raw text to continue (no chat template)


def plain_content(content: Any) -> str:
    """Text of a chat message's content: a string, or a list of parts (``{"type": "text", "text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return "".join(plain_content(c) for c in content)
    return "" if content is None else str(content)


def normalize_messages(messages: Any) -> list[dict[str, str]]:
    """A list of ``{"role", "content"}`` messages with plain-text content; ConfigError otherwise."""
    if not isinstance(messages, list):
        raise ConfigError("messages must be a list of {\"role\", \"content\"} objects.")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ConfigError(f"messages[{i}] must be an object with role system, user or assistant, and content.")
        out.append({"role": m["role"], "content": plain_content(m.get("content"))})
    return out


def with_system(messages: list[dict[str, str]], system: str) -> list[dict[str, str]]:
    """``messages`` with ``system`` first, unless empty or the conversation has its own system message."""
    system = (system or "").strip()
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}] + messages
    return messages


def build_messages(mode: str = "chat", *, system: str = "", history: list[dict] | None = None, prompt: str = "",
                   document: str = "", context: str = "", question: str = "") -> list[dict[str, str]]:
    """The prompt messages for one request.

    ``chat``: the system prompt, the earlier turns, then ``prompt`` as the user's message.
    ``summarization`` (``document``) and ``extractive-qa`` (``context`` and ``question``):
    formatted by :func:`forge.data.tasks.prompt_messages`, exactly as the training rows were.
    """
    if mode in ("summarization", "extractive-qa"):
        return _task_messages(mode, (system or "").strip() or None, document, context, question)
    if mode not in ("chat", "text-generation"):
        raise ConfigError(f"Unknown mode '{mode}'.", f"Use one of: {', '.join(MODES)}.")
    msgs = with_system(normalize_messages(list(history or [])), system)
    if (prompt or "").strip():
        msgs.append({"role": "user", "content": prompt})
    if not msgs or msgs[-1]["role"] != "user":
        raise ConfigError("There is no message to answer.", "Type a message (or give prompt or messages ending "
                          "with a user message).")
    return msgs


def _task_messages(mode: str, system: str | None, document: str, context: str, question: str) -> list[dict]:
    from ..data.tasks import prompt_messages

    if mode == "summarization":
        if not (document or "").strip():
            raise ConfigError("Summarization needs a document to summarize.")
        return prompt_messages({"document": document}, "summarization", system)
    if not (context or "").strip() or not (question or "").strip():
        raise ConfigError("Extractive QA needs a context and a question.")
    return prompt_messages({"context": context, "question": question}, "extractive-qa", system)


def mode_for_task(task: str | None) -> str:
    """The Playground mode that fits a model trained on ``task``."""
    return task if task in ("summarization", "extractive-qa") else "chat"


def request_prompt(messages: Prompt, system: str) -> Prompt:
    """What a request asks: its messages checked, ``system`` first; a string stays a raw text prompt."""
    return messages if isinstance(messages, str) else with_system(normalize_messages(messages), system)


def prompt_text(tokenizer, prompt: Prompt) -> str:
    """The text the model reads: the chat template saved with the model (ending where the assistant's
    answer starts), plain ``Role: text`` turns for a model without one, or a raw text prompt as it is."""
    if isinstance(prompt, str):
        return prompt
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    return "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt) + "Assistant:"


def templated(tokenizer, prompt: Prompt) -> bool:
    """Whether the prompt's text comes from the chat template (which writes its own special tokens)."""
    return not isinstance(prompt, str) and bool(getattr(tokenizer, "chat_template", None))
