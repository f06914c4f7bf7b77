"""Tasks: their fields, the column names that map onto them, row validation, and the one
prompt format used both for training and in the Playground.

Every task becomes chat messages: a prompt (system and user turns) and a completion (the
assistant turn). The tokenizer's chat template renders them, and the loss is computed on the
completion only (TRL's prompt-completion format with ``completion_only_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Messages = list[dict[str, str]]
ROLES = ("system", "user", "assistant", "tool")

SUMMARIZE_INSTRUCTION = "Summarize the following text."
QA_INSTRUCTION = "Answer the question with a short span copied from the context."


def summarization_prompt(document: str) -> str:
    return f"{SUMMARIZE_INSTRUCTION}\n\n{document.strip()}"


def qa_prompt(context: str, question: str) -> str:
    return f"{QA_INSTRUCTION}\n\nContext: {context.strip()}\n\nQuestion: {question.strip()}"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    label: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)  # other column name -> our field
    expected: dict[str, str] = field(default_factory=dict)  # field -> what it should hold
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


# ---- field checks ----------------------------------------------------------------------------

def _text(value: Any, name: str, *, allow_empty: bool = False) -> str | None:
    if value is None:
        return f"field '{name}' is null"
    if not isinstance(value, str):
        return f"field '{name}' must be text, found {type(value).__name__}"
    if not allow_empty and not value.strip():
        return f"field '{name}' is empty"
    return None


def _messages(value: Any, name: str, *, must_end_with_assistant: bool = True) -> str | None:
    if not isinstance(value, list) or not value:
        return f"field '{name}' must be a non-empty list of {{\"role\", \"content\"}} objects, found {type(value).__name__}"
    for i, m in enumerate(value):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            return f"{name}[{i}] must be an object with 'role' and 'content'"
        if m["role"] not in ROLES:
            return f"{name}[{i}].role is '{m['role']}'; expected one of {', '.join(ROLES)}"
        if not isinstance(m["content"], str) or not m["content"].strip():
            return f"{name}[{i}].content is empty or not text"
        if m["role"] == "tool" and (i == 0 or value[i - 1]["role"] not in ("assistant", "tool")):
            return (f"{name}[{i}] is a tool's answer (an observation) but does not follow a tool call "
                    "(an assistant or function_call turn)")
    if must_end_with_assistant and value[-1]["role"] != "assistant":
        return f"the last message of '{name}' must be from the assistant (the answer to learn)"
    if must_end_with_assistant and not any(m["role"] == "user" for m in value):
        return f"'{name}' has no user message"
    return None


def _text_or_messages(value: Any, name: str) -> str | None:
    if isinstance(value, list):
        return _messages(value, name, must_end_with_assistant=False)
    return _text(value, name)


def answers_list(value: Any) -> list[str]:
    """SQuAD ``{"text": [...]}``, a list of strings, or a string → list of answer texts."""
    if isinstance(value, dict):
        value = value.get("text", [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _bool(value: Any, name: str) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return None
    return f"field '{name}' must be true or false, found {value!r}"


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def as_text(value: Any) -> str:
    """A string, or the content of the last message of a list of messages."""
    if isinstance(value, list):
        return value[-1]["content"] if value else ""
    return value


VALIDATORS: dict[str, Callable[[dict], list[str]]] = {}


def validator(task: str):
    def deco(fn):
        VALIDATORS[task] = fn
        return fn

    return deco


@validator("text-generation")
def _v_textgen(r: dict) -> list[str]:
    errs = [e for f in ("input", "output") if (e := _text(r.get(f), f))]
    if "system" in r and r["system"] is not None and (e := _text(r["system"], "system", allow_empty=True)):
        errs.append(e)
    return errs


@validator("chat")
def _v_chat(r: dict) -> list[str]:
    errs = [e] if (e := _messages(r.get("messages"), "messages")) else []
    if r.get("tools") not in (None, "", []) and tool_specs(r["tools"]) is None:
        errs.append("field 'tools' must be a JSON list of function specs ([{\"name\": ..., \"parameters\": ...}])")
    return errs


def tool_specs(value: Any) -> list[dict] | None:
    """A row's ``tools`` (a list of function specs, or that list as JSON text); None when it is not one."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return None
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and all(isinstance(t, dict) for t in value):
        return value
    return None


@validator("text")
def _v_text(r: dict) -> list[str]:
    return [e] if (e := _text(r.get("text"), "text")) else []


@validator("summarization")
def _v_summ(r: dict) -> list[str]:
    return [e for f in ("document", "summary") if (e := _text(r.get(f), f))]


@validator("extractive-qa")
def _v_qa(r: dict) -> list[str]:
    errs = [e for f in ("context", "question") if (e := _text(r.get(f), f))]
    answers = answers_list(r.get("answers"))
    if not answers or not all(a.strip() for a in answers):
        errs.append("field 'answers' must hold at least one non-empty answer text ({\"text\": [\"...\"]} or a string)")
    elif not errs:
        missing = [a for a in answers if a not in r["context"]]
        if missing:
            errs.append(f"answer '{missing[0][:40]}' does not appear in the context (extractive QA copies a span)")
    return errs


@validator("preference")
def _v_pref(r: dict) -> list[str]:
    errs = [e for f in ("prompt", "chosen", "rejected") if (e := _text_or_messages(r.get(f), f))]
    if not errs and r["chosen"] == r["rejected"]:
        errs.append("'chosen' and 'rejected' are identical: a preference pair needs two different answers")
    return errs


@validator("feedback")
def _v_feedback(r: dict) -> list[str]:
    errs = [e for f in ("prompt", "completion") if (e := _text_or_messages(r.get(f), f))]
    if (e := _bool(r.get("label"), "label")):
        errs.append(e)
    return errs


@validator("prompt")
def _v_prompt(r: dict) -> list[str]:
    errs = [e] if (e := _text_or_messages(r.get("prompt"), "prompt")) else []
    if r.get("answer") is not None and not isinstance(r["answer"], (str, int, float)):
        errs.append("field 'answer' must be text or a number")
    return errs


TASK_SPECS: dict[str, TaskSpec] = {
    s.name: s
    for s in [
        TaskSpec("text-generation", "Instruction → response", ("input", "output"), ("system",),
                 {"instruction": "input", "prompt": "input", "question": "input", "query": "input",
                  "response": "output", "completion": "output", "answer": "output", "target": "output",
                  "system_prompt": "system"},
                 {"input": "the instruction or question (text)", "output": "the answer to learn (text)"},
                 {"input": "What is the capital of France?", "output": "Paris."}),
        TaskSpec("chat", "Chat conversations", ("messages",), (),
                 {"conversations": "messages", "conversation": "messages", "dialog": "messages"},
                 {"messages": "a list of {\"role\": system|user|assistant, \"content\": text}, ending with the assistant"},
                 {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}),
        TaskSpec("summarization", "Document → summary", ("document", "summary"), (),
                 {"article": "document", "text": "document", "dialogue": "document", "content": "document",
                  "highlights": "summary", "abstract": "summary", "headline": "summary", "tldr": "summary"},
                 {"document": "the text to summarize", "summary": "its summary"},
                 {"document": "Long text...", "summary": "Short text."}),
        TaskSpec("extractive-qa", "Extractive question answering", ("context", "question", "answers"), (),
                 {"passage": "context", "paragraph": "context", "answer": "answers", "query": "question"},
                 {"context": "the passage", "question": "the question",
                  "answers": "{\"text\": [\"span of the context\", ...]} or a string"},
                 {"context": "Paris is the capital of France.", "question": "What is the capital of France?",
                  "answers": {"text": ["Paris"], "answer_start": [0]}}),
        TaskSpec("preference", "Preference pairs (DPO, ORPO, RLHF)", ("prompt", "chosen", "rejected"), (),
                 {"question": "prompt", "instruction": "prompt", "accepted": "chosen", "preferred": "chosen",
                  "response_chosen": "chosen", "response_rejected": "rejected", "dispreferred": "rejected",
                  "conversations": "prompt", "messages": "prompt"},
                 {"prompt": "the prompt (text or messages)", "chosen": "the better answer", "rejected": "the worse answer"},
                 {"prompt": "Say hi", "chosen": "Hello! How can I help?", "rejected": "What."}),
        TaskSpec("feedback", "Unpaired feedback (KTO)", ("prompt", "completion", "label"), (),
                 {"question": "prompt", "response": "completion", "output": "completion", "desirable": "label",
                  "thumbs_up": "label", "kto_tag": "label"},
                 {"prompt": "the prompt", "completion": "an answer", "label": "true if the answer is good, false if bad"},
                 {"prompt": "Say hi", "completion": "Hello!", "label": True}),
        TaskSpec("text", "Plain text (continued pre-training)", ("text",), (),
                 {"content": "text", "body": "text"},
                 {"text": "a passage of text, learned whole (every token)"},
                 {"text": "The tide turns twice a day; sailors plan their leaving by it."}),
        TaskSpec("prompt", "Prompts (online RL: GRPO, RLHF)", ("prompt",), ("answer",),
                 {"question": "prompt", "instruction": "prompt", "input": "prompt", "solution": "answer",
                  "reference": "answer", "output": "answer"},
                 {"prompt": "the prompt to answer", "answer": "a reference answer (optional; used by exact-match rewards)"},
                 {"prompt": "What is 2 + 2?", "answer": "4"}),
    ]
}

# When the task is not given, the first spec whose required fields are all present wins.
DETECTION_ORDER = ("preference", "feedback", "chat", "extractive-qa", "summarization", "text-generation", "prompt",
                   "text")
CONVERSATION_COLUMNS = ("messages", "conversations", "conversation", "dialog")
LABEL_COLUMNS = ("label", "kto_tag")


def map_columns(columns: list[str], spec: TaskSpec) -> dict[str, str]:
    """Column renames (theirs → ours) that make ``columns`` fit ``spec``."""
    have = set(columns)
    renames: dict[str, str] = {}
    for col in columns:
        target = spec.aliases.get(col) or spec.aliases.get(col.lower())
        if target and target not in have and target not in renames.values():
            renames[col] = target
    return renames


def _detect(columns: list[str], order: list[str]) -> tuple[str | None, bool, dict[str, int]]:
    """(task, found by exact column names?, fields shared with each task)."""
    outputs = {c for c in columns if TASK_SPECS["text-generation"].aliases.get(c.lower()) == "output"} - {"answer"}
    for name in order:
        if name == "prompt" and (outputs or "output" in columns):
            continue  # prompt + completion/response is instruction data, not prompts alone
        if all(f in columns for f in TASK_SPECS[name].required):
            return name, True, {}
    overlap = {}
    for name in order:
        spec = TASK_SPECS[name]
        mapped = set(columns) | set(map_columns(columns, spec).values())
        if all(f in mapped for f in spec.required):
            return name, False, {}
        overlap[name] = len(mapped & set(spec.required))
    return None, False, overlap


def detect_task(columns: list[str], candidates: tuple[str, ...] | None = None) -> str | None:
    """The task whose fields the columns hold: exact names first, then known aliases.

    ``candidates`` are the tasks the chosen strategy trains on. A dataset that is clearly of
    another task (exact column names) keeps that task, so the mismatch can be explained; when
    the columns fit no candidate fully, the candidate sharing the most fields is chosen, so that
    validation can say, row by row, which field is missing.
    """
    convo = any(c in columns for c in CONVERSATION_COLUMNS)
    if convo and any(c in columns for c in LABEL_COLUMNS) and (candidates is None or "feedback" in candidates):
        return "feedback"  # KTO: a conversation whose last assistant turn is the completion, and a label
    if convo and "chosen" in columns and "rejected" in columns and "prompt" not in columns \
            and (candidates is None or "preference" in candidates):
        return "preference"  # a conversation and two answers to its last turn
    task, exact, _ = _detect(columns, list(DETECTION_ORDER))
    if candidates is None or task in candidates or (task and exact):
        return task
    order = [t for t in DETECTION_ORDER if t in candidates]
    found, _, overlap = _detect(columns, order)
    if found:
        return found
    if overlap and max(overlap.values()) > 0:
        return max(order, key=lambda t: overlap[t])
    return task


def normalize_row(row: dict, task: str, renames: dict[str, str]) -> dict:
    """Apply column renames and the special shapes (Alpaca's instruction+input, ShareGPT)."""
    out = dict(row)
    if task == "text-generation" and "instruction" in row and "input" in row and "input" not in renames.values():
        # Alpaca: instruction + optional input
        extra = row.get("input") or ""
        out["input"] = f"{row['instruction']}\n\n{extra}".strip() if isinstance(extra, str) else row["instruction"]
        out.pop("instruction", None)
    for theirs, ours in renames.items():
        if theirs in out:
            out[ours] = out.pop(theirs)
    if task == "feedback" and "prompt" not in out and "completion" not in out:
        _feedback_from_conversation(out)
    if "kto_tag" in out and "label" not in out:
        out["label"] = out.pop("kto_tag")
    _as_chat_messages(out)
    _system_column_first(out, task)
    return out


def _feedback_from_conversation(out: dict) -> None:
    """KTO rows as ``messages`` + label: the last assistant turn is the completion the label rates."""
    convo = next((out.pop(c) for c in CONVERSATION_COLUMNS if c in out), None)
    msgs = [_sharegpt(m) for m in convo] if isinstance(convo, list) else convo
    if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") == "assistant":
        out["prompt"], out["completion"] = msgs[:-1], msgs[-1].get("content")
    else:
        out["prompt"] = msgs
        out[PROBLEM] = ("the last message of the conversation must be from the assistant: it is the completion "
                        "the label rates")


def _as_chat_messages(out: dict) -> None:
    """ShareGPT messages as chat messages; a single answer message (ShareGPT and OpenAI preference
    files) as its text."""
    for f in ("messages", "prompt"):
        if isinstance(out.get(f), list):
            out[f] = [_sharegpt(m) for m in out[f]]
    for f in ("chosen", "rejected", "completion"):
        v = out.get(f)
        if isinstance(v, dict):
            m = _sharegpt(v)
            out[f] = m.get("content") if isinstance(m, dict) and "content" in m else v
        elif isinstance(v, list):
            out[f] = [_sharegpt(m) for m in v]


def _system_column_first(out: dict, task: str) -> None:
    """ShareGPT's separate ``system`` column, as the first message of the conversation."""
    key = "messages" if task == "chat" else "prompt" if task in ("preference", "feedback", "prompt") else None
    system, msgs = out.get("system"), out.get(key) if key else None
    if isinstance(system, str) and system.strip() and isinstance(msgs, list) \
            and not (msgs and isinstance(msgs[0], dict) and msgs[0].get("role") == "system"):
        out[key] = [{"role": "system", "content": system}] + msgs


SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
                  "bot": "assistant", "function_call": "assistant", "observation": "tool", "tool": "tool",
                  "function": "tool"}


def _sharegpt(m: Any) -> Any:
    """A ShareGPT message ({"from", "value"}) as a chat message; a tool call is the assistant's turn
    and an observation the tool's answer."""
    if isinstance(m, dict) and "from" in m and "value" in m:
        role = SHAREGPT_ROLES.get(str(m["from"]).lower(), str(m["from"]))
        return {"role": role, "content": m["value"]}
    return m


PROBLEM = "__problem__"  # set by normalize_row when a row's shape cannot be mapped


def validate_row(row: dict, task: str) -> list[str]:
    if PROBLEM in row:
        return [row[PROBLEM]]
    spec = TASK_SPECS[task]
    missing = [f for f in spec.required if f not in row]
    if missing:
        return [f"missing field '{f}' (expected {spec.expected.get(f, f)})" for f in missing]
    return VALIDATORS[task](row)


# ---- formatting: one place, used by training and by the Playground --------------------------

def to_messages(value: Any) -> Messages:
    return value if isinstance(value, list) else [{"role": "user", "content": value}]


def prompt_messages(row: dict, task: str, system: str | None = None) -> Messages:
    """The prompt (system + user turns) of a row, as chat messages."""
    if task == "chat":
        msgs = list(row["messages"])
        return msgs[:-1] if msgs and msgs[-1]["role"] == "assistant" else msgs
    if task == "text-generation":
        user = row["input"]
        system = row.get("system") or system
    elif task == "summarization":
        user = summarization_prompt(row["document"])
    elif task == "extractive-qa":
        user = qa_prompt(row["context"], row["question"])
    elif task in ("preference", "feedback", "prompt"):
        msgs = to_messages(row["prompt"])
        return ([{"role": "system", "content": system}] if system and msgs[0]["role"] != "system" else []) + msgs
    else:
        raise ValueError(f"unknown task {task}")
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def reference_answer(row: dict, task: str) -> str:
    if task == "chat":
        return row["messages"][-1]["content"]
    if task == "text-generation":
        return row["output"]
    if task == "summarization":
        return row["summary"]
    if task == "extractive-qa":
        return answers_list(row["answers"])[0]
    if task == "preference":
        return as_text(row["chosen"])
    if task == "feedback":
        return as_text(row["completion"])
    if task == "text":
        return row["text"]
    return str(row.get("answer", ""))


def reference_answers(row: dict, task: str) -> list[str]:
    if task == "extractive-qa":
        return answers_list(row["answers"])
    return [reference_answer(row, task)]


def prompt_completion_pairs(row: dict, task: str) -> list[dict]:
    """SFT examples of a row: ``{"prompt": messages, "completion": [assistant message]}``.

    A chat with several assistant turns gives one example per assistant turn, so every answer
    is learned with the loss on that answer only.
    """
    if task == "chat":
        msgs = row["messages"]
        tools = tool_specs(row.get("tools")) if row.get("tools") else None
        return [{"prompt": msgs[:i], "completion": [msgs[i]], **({"tools": tools} if tools else {})}
                for i, m in enumerate(msgs) if m["role"] == "assistant" and i > 0]
    if task == "text":
        return [{"text": row["text"]}]  # language modelling: the loss on every token
    return [{"prompt": prompt_messages(row, task),
             "completion": [{"role": "assistant", "content": reference_answer(row, task)}]}]
