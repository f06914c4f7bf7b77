"""Validated rows → the datasets TRL's alignment trainers read, in TRL's conversational formats.

* preference (DPO, ORPO, reward model): ``{"prompt": [messages], "chosen": [assistant message],
  "rejected": [assistant message]}``
* unpaired preference (KTO): ``{"prompt": [messages], "completion": [assistant message], "label": bool}``;
  preference pairs are split with TRL's ``unpair_preference_dataset`` (chosen → true, rejected → false)
* prompt-only (GRPO, RLHF's online stage): ``{"prompt": [messages], "answer": str}`` (answer when known)
"""

from __future__ import annotations

from typing import Any

from .tasks import Messages, as_bool, prompt_messages

ALIGNMENT_TASKS = ("preference", "feedback", "prompt")


def _assistant(value: Any) -> Messages:
    """An answer (text, or messages continuing the prompt) as the completion's messages."""
    if isinstance(value, list):
        return list(value)
    return [{"role": "assistant", "content": value}]


def preference_records(rows: list[dict], task: str = "preference") -> list[dict]:
    if task != "preference":
        raise ValueError(f"preference pairs come from preference data, not {task}")
    return [{"prompt": prompt_messages(r, task), "chosen": _assistant(r["chosen"]),
             "rejected": _assistant(r["rejected"])} for r in rows]


def preference_dataset(rows: list[dict], task: str = "preference"):
    """Paired preferences, for DPOTrainer, ORPOTrainer and RewardTrainer."""
    import datasets

    return datasets.Dataset.from_list(preference_records(rows, task))


def unpaired_dataset(rows: list[dict], task: str, seed: int = 42):
    """Unpaired feedback for KTOTrainer: feedback rows as they are, preference pairs split in two.

    Split pairs are shuffled: TRL's split lists every chosen answer before every rejected one, and
    KTO reads its data in order (its KL estimate pairs each row with its neighbour's answer)."""
    import datasets

    if task == "feedback":
        return datasets.Dataset.from_list([
            {"prompt": prompt_messages(r, task), "completion": _assistant(r["completion"]), "label": as_bool(r["label"])}
            for r in rows])
    if task == "preference":
        from trl import unpair_preference_dataset

        return unpair_preference_dataset(preference_dataset(rows, task)).shuffle(seed=seed).flatten_indices()
    raise ValueError(f"unpaired feedback comes from feedback or preference data, not {task}")


def prompt_records(rows: list[dict], task: str) -> list[dict]:
    """Prompts (with the reference answer of ``prompt`` rows); repeated prompts appear once."""
    out, seen = [], set()
    for r in rows:
        msgs = prompt_messages(r, task)
        key = repr(msgs)
        if key in seen:
            continue
        seen.add(key)
        rec: dict[str, Any] = {"prompt": msgs}
        if task == "prompt" and r.get("answer") is not None:
            rec["answer"] = str(r["answer"])
        out.append(rec)
    if any("answer" in rec for rec in out):
        for rec in out:
            rec.setdefault("answer", None)
    return out


def prompt_dataset(rows: list[dict], task: str):
    """Prompt-only data for GRPOTrainer and RLOOTrainer (the answer column feeds exact-match rewards)."""
    import datasets

    return datasets.Dataset.from_list(prompt_records(rows, task))


# ---- prompt length -------------------------------------------------------------------------

def prompt_tokens(messages: Messages, tokenizer) -> int:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def clip_prompt(messages: Messages, tokenizer, max_tokens: int) -> Messages | None:
    """The prompt cut to ``max_tokens`` (chat template included), keeping its end: earlier turns go
    first, then the start of the earliest remaining message. None when even that cannot fit."""
    if prompt_tokens(messages, tokenizer) <= max_tokens:
        return messages
    msgs = [dict(m) for m in messages]
    system = [m for m in msgs if m["role"] == "system"]
    turns = [m for m in msgs if m["role"] != "system"]
    while len(turns) > 1 and prompt_tokens(system + turns, tokenizer) > max_tokens:
        turns.pop(0)
    for _ in range(4):  # token boundaries can shift after decoding: re-measure a few times
        excess = prompt_tokens(system + turns, tokenizer) - max_tokens
        if excess <= 0:
            return system + turns
        ids = tokenizer(turns[0]["content"], add_special_tokens=False)["input_ids"]
        if excess + 1 >= len(ids):
            return None
        turns[0] = {**turns[0], "content": tokenizer.decode(ids[excess + 1:]).lstrip()}
    return system + turns if prompt_tokens(system + turns, tokenizer) <= max_tokens else None


def clip_prompts(rows: list[dict], task: str, tokenizer, max_tokens: int | None) -> tuple[list[dict], int, int]:
    """Rows whose ``prompt`` fits ``max_tokens``: (rows, number clipped, number dropped because the
    template alone is longer)."""
    if not max_tokens:
        return rows, 0, 0
    out, clipped, dropped = [], 0, 0
    for r in rows:
        msgs = prompt_messages(r, task)
        cut = clip_prompt(msgs, tokenizer, max_tokens)
        if cut is None:
            dropped += 1
            continue
        if cut is not msgs:
            clipped += 1
            r = {**r, "prompt": cut}
        out.append(r)
    return out, clipped, dropped

