"""Column mappings: which of a file's columns holds each part of an example.

A mapping (``RunConfig.columns``) names, for a canonical role, the file's column that holds it:
``{"prompt": "question_text", "response": "answer_text"}``. It is applied to the rows as read,
before the task is detected, so a file with any column names trains as its mapped roles say.
ShareGPT-style message lists whose keys or role names differ from the usual ones are mapped with
the tag keys (``role_tag``, ``content_tag``, ``user_tag``, ...), as in LLaMA-Factory's
``dataset_info.json``.
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError
from .reader import Row
from .tasks import PROBLEM

# canonical role -> the field it becomes in a row (before the task's own aliases apply)
ROLES: dict[str, str] = {
    "prompt": "prompt", "query": "query", "response": "completion", "history": "history",
    "messages": "messages", "system": "system", "tools": "tools", "chosen": "chosen", "rejected": "rejected",
    "label": "label", "text": "text",
}
SYNONYMS = {"completion": "response", "kto_tag": "label", "conversations": "messages"}
ROLE_HELP = {
    "prompt": "the instruction or question", "query": "extra input appended to the prompt (Alpaca's input)",
    "response": "the answer to learn", "history": "earlier turns: a list of [question, answer] pairs",
    "messages": "a conversation (a list of messages)", "system": "a system prompt",
    "tools": "tool specs (JSON)", "chosen": "the better answer", "rejected": "the worse answer",
    "label": "true for a good answer, false for a bad one (KTO)", "text": "plain text, learned whole",
}
# message tags: the key of a message's role and text, and the role names the file uses
TAGS: dict[str, str] = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                        "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
TAG_ROLES = {"user_tag": "user", "assistant_tag": "assistant", "observation_tag": "tool",
             "function_tag": "assistant", "system_tag": "system"}
KEYS = tuple(ROLES) + tuple(TAGS)
MAX_NAME = 200


def normalize(mapping: dict[str, Any] | None) -> dict[str, str]:
    """A mapping with synonyms replaced and empty entries dropped; ValueError naming a bad key."""
    out: dict[str, str] = {}
    for key, col in (mapping or {}).items():
        role = SYNONYMS.get(str(key).strip(), str(key).strip())
        if role not in KEYS:
            raise ValueError(f"'{key}' is not a role a column can hold (one of: {', '.join(KEYS)})")
        if col is None or (isinstance(col, str) and not col.strip()):
            continue
        if not isinstance(col, str) or len(col) > MAX_NAME:
            raise ValueError(f"{key}: give the column's name as text (at most {MAX_NAME} characters)")
        out[role] = col.strip()
    return out


def file_columns(raw: list[Row]) -> list[str]:
    """Every column that appears in the rows, in order of first appearance."""
    return list(dict.fromkeys(k for r in raw for k in r.data))


def check(mapping: dict[str, str], columns: list[str], where: str, name: str) -> None:
    """DataError naming ``where.<role>`` for each mapped column the file lacks."""
    missing = [(role, col) for role, col in mapping.items() if role in ROLES and col not in columns]
    if missing:
        lines = [f"{where}.{role}: the file has no column '{col}'" for role, col in missing]
        raise DataError(f"{name}: " + "; ".join(lines) + f". Its columns: {', '.join(columns) or '(none)'}.",
                        "Pick one of the file's columns for each role, or leave the role empty.")


def apply(raw: list[Row], mapping: dict[str, str]) -> list[Row]:
    """The rows with their mapped columns renamed to the canonical fields, messages rewritten
    with the mapping's tags, and Alpaca's query and history folded into the prompt."""
    if not mapping:
        return raw
    roles = {r: c for r, c in mapping.items() if r in ROLES}
    tags = {**TAGS, **{t: v for t, v in mapping.items() if t in TAGS}}
    custom_tags = any(t in TAGS for t in mapping)
    return [Row(r.line, _map_row(r.data, roles, tags if custom_tags else None)) for r in raw]


def _map_row(data: dict, roles: dict[str, str], tags: dict[str, str] | None) -> dict:
    out = {k: v for k, v in data.items() if k not in roles.values()}
    for role, col in roles.items():
        if col in data:
            out[ROLES[role]] = data[col]
    if tags:
        for f in ("messages", "chosen", "rejected"):
            if f in out:
                out[f] = _tagged(out[f], tags)
    if "query" in out:
        query = out.pop("query")
        if isinstance(query, str) and query.strip():
            prompt = out.get("prompt")
            out["prompt"] = f"{prompt}\n\n{query}" if isinstance(prompt, str) and prompt.strip() else query
    if "history" in out:
        _fold_history(out)
    return out


def _tagged(value: Any, tags: dict[str, str]) -> Any:
    """Messages keyed by the file's tags as ``{"role", "content"}`` messages."""
    if isinstance(value, list):
        return [_tagged(m, tags) for m in value]
    if not isinstance(value, dict) or tags["role_tag"] not in value or tags["content_tag"] not in value:
        return value
    names = {tags[t]: role for t, role in TAG_ROLES.items()}
    who = value[tags["role_tag"]]
    return {"role": names.get(who, who), "content": value[tags["content_tag"]]}


def _fold_history(out: dict) -> None:
    """Alpaca's ``history`` ([[question, answer], ...]) as the turns before the prompt."""
    history = out.pop("history") or []
    if not isinstance(history, list) or not all(isinstance(p, list) and len(p) == 2 for p in history):
        out[PROBLEM] = "field 'history' must be a list of [question, answer] pairs"
        return
    turns = [{"role": role, "content": text} for q, a in history for role, text in (("user", q), ("assistant", a))]
    prompt = turns + [{"role": "user", "content": out.get("prompt")}]
    if "completion" in out and "label" not in out:  # instruction data with earlier turns: a conversation
        out["messages"] = prompt + [{"role": "assistant", "content": out.pop("completion")}]
        out.pop("prompt", None)
    else:
        out["prompt"] = prompt
