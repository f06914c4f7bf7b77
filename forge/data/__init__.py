"""Datasets: read a file or hub dataset, map its columns to a task, validate every row
(reporting file and line), split, and format for the trainer.

Validation runs before any model loads.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .reader import EXTENSIONS, MAX_PROBLEMS, Problem, Row, excerpt, read_file, read_hub
from .tasks import (
    DETECTION_ORDER,
    TASK_SPECS,
    detect_task,
    map_columns,
    normalize_row,
    prompt_completion_pairs,
    prompt_messages,
    reference_answer,
    reference_answers,
    validate_row,
)

SAMPLES_DIR = Path(__file__).parent / "samples"
MIN_ROWS = 4


def samples() -> dict[str, Path]:
    """Built-in sample datasets: name → file."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.glob("*.jsonl"))}


@dataclass
class Dataset:
    """A validated dataset: canonical rows of one task, each with its source line."""

    source: str
    task: str
    rows: list[dict[str, Any]]
    lines: list[int]
    notices: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def split(self, eval_split: float, seed: int) -> tuple[list[dict], list[dict]]:
        """Shuffle with ``seed`` and hold out ``eval_split`` of the rows (at least one when > 0)."""
        idx = list(range(len(self.rows)))
        random.Random(seed).shuffle(idx)
        n_eval = 0 if eval_split <= 0 else max(1, round(len(idx) * eval_split))
        n_eval = min(n_eval, len(idx) - 1)
        ev, tr = idx[:n_eval], idx[n_eval:]
        return [self.rows[i] for i in tr], [self.rows[i] for i in ev]

    def preview(self, n: int = 5) -> list[dict[str, Any]]:
        """The first rows after mapping, as the prompt and answer the model will see."""
        out = []
        for row in self.rows[:n]:
            if self.task == "text":  # learned whole: no prompt
                out.append({"prompt": "(continued pre-training: the whole text is learned)",
                            "answer": row["text"][:300]})
                continue
            prompt = prompt_messages(row, self.task)
            out.append({"prompt": "\n".join(f"[{m['role']}] {m['content']}" for m in prompt)[:300],
                        "answer": reference_answer(row, self.task)[:300]})
        return out


def _task_of(name: str, columns: list[str], task: str | None, tasks: tuple[str, ...] | None,
             notices: list[str]) -> str:
    """The task given, or the one the columns show (noted in ``notices``)."""
    if task is None:
        task = detect_task(columns, tasks)
        if task is None:
            options = "; ".join(f"{t}: {', '.join(TASK_SPECS[t].required)}" for t in DETECTION_ORDER)
            raise DataError(f"{name}: could not tell the task from the columns ({', '.join(columns)}).",
                            f"Map the columns to roles with the setting columns (e.g. columns: {{prompt: "
                            f"{(columns or ['A'])[0]}, response: {(columns or ['B'])[-1]}}}; on the page: Column "
                            "mapping), rename them "
                            f"to one of these sets, or choose the task. {options}")
        notices.append(f"Task detected from the columns: {task}")
    if task not in TASK_SPECS:
        raise DataError(f"Unknown task '{task}'.", f"Choose one of: {', '.join(TASK_SPECS)}")
    return task


def _valid_rows(name: str, raw: list, problems: list[Problem], task: str,
                renames: dict[str, str]) -> tuple[list[dict], list[int]]:
    """The rows mapped to the task's fields, with their lines; DataError naming each bad row's line."""
    total = len(raw) + len(problems)  # rows read, and lines that could not be parsed
    rows, lines = [], []
    for r in raw:
        row = normalize_row(r.data, task, renames)
        errs = validate_row(row, task)
        if errs:
            problems += [Problem(name, r.line, e) for e in errs]
        else:
            rows.append(row)
            lines.append(r.line)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        bad = len({p.line for p in problems})
        raise DataError(
            f"{name}: {bad} of {total} rows are not valid {task} examples"
            + (f" (first {MAX_PROBLEMS} shown)" if len(problems) > MAX_PROBLEMS else "") + ".",
            "Each row needs: " + "; ".join(f"{k}: {v}" for k, v in TASK_SPECS[task].expected.items()) + ".",
            problems[:MAX_PROBLEMS],
        )
    return rows, lines


def resolve_source(ref: str, *, sandbox: bool = False) -> tuple[str, Path | None]:
    """``sample:NAME`` → the sample's file; a path → the file (checked against the sandbox when
    the request comes from the page or the API); anything else is a hub dataset id."""
    ref = ref.strip()
    from ..config import MAX_REF_LENGTH

    if len(ref) > MAX_REF_LENGTH:
        raise DataError(f"dataset: the reference is {len(ref)} characters long; at most {MAX_REF_LENGTH} characters.",
                        "Give a sample name, an uploaded file, a file path or a Hub dataset id.")
    if ref.startswith("sample:"):
        name = ref.split(":", 1)[1]
        if name not in samples():
            raise DataError(f"There is no sample dataset '{name}'.", f"Pick one of: {', '.join(samples())}.")
        return ref, samples()[name]
    p = Path(ref).expanduser()
    looks_like_file = p.suffix.lower() in EXTENSIONS or ref.startswith((".", "/", "~")) or p.exists()
    if sandbox and looks_like_file:
        from ..sandbox import check_path

        p = check_path(ref, "dataset")
    if looks_like_file:
        return ref, p
    return ref, None


def _read(ref: str, sandbox: bool, display_name: str | None) -> tuple[str, list[Row], list[Problem], Any]:
    """The rows of a reference (a file, a Hub dataset, or FOLDER:NAME of a dataset_info.json),
    its display name, the lines that could not be read, and the dataset_info entry (or None)."""
    from . import dataset_info

    found = dataset_info.split_ref(ref.strip(), sandbox=sandbox) if len(ref) <= 4096 else None
    entry = dataset_info.entry(*found) if found else None
    ref, path = resolve_source(str(entry.file) if entry else ref, sandbox=sandbox)
    name = display_name or (f"{found[0].name}:{entry.name}" if entry else path.name if path else ref)
    raw, problems = read_file(path, name) if path else (read_hub(ref), [])
    return name, raw, problems, entry


def _mapped(raw: list[Row], name: str, entry: Any, columns: dict[str, str] | None,
            notices: list[str]) -> list[Row]:
    """The rows with the dataset_info entry's mapping and the config's ``columns`` applied."""
    from . import columns as colmap
    from .dataset_info import INFO, mapping_for

    if not entry and not columns:
        return raw
    have = colmap.file_columns(raw)
    try:
        mapping = colmap.normalize(columns)
    except ValueError as e:
        raise DataError(f"columns: {e}.",
                        "Map roles (prompt, response, messages, ...) to the file's columns.") from None
    colmap.check(mapping, have, "columns", name)
    base = mapping_for(entry, have) if entry else {}
    full = {**base, **mapping}
    if full:
        source = f"{INFO} and the config's columns" if entry and mapping else INFO if entry else "the config's columns"
        notices.append(f"Columns mapped by {source}: " + ", ".join(
            f"{c} → {r}" if r in colmap.ROLES else f"{r} = {c}" for r, c in full.items()))
    return colmap.apply(raw, full)


def columns_of(ref: str, *, sandbox: bool = False) -> list[str]:
    """The columns of a dataset as its file has them (before any mapping)."""
    from .columns import file_columns

    return file_columns(_read(ref, sandbox, None)[1])


def load(ref: str, task: str | None = None, *, sandbox: bool = False, max_samples: int | None = None,
         display_name: str | None = None, tasks: tuple[str, ...] | None = None,
         fill: dict[str, str] | None = None, columns: dict[str, str] | None = None) -> Dataset:
    """Read and validate a dataset. Raises DataError listing up to 20 bad rows with their lines.

    ``task`` fixes the task; otherwise it is detected from the columns, among ``tasks`` when given
    (the tasks the chosen strategy trains on). ``columns`` maps roles to the file's columns
    (RunConfig.columns), applied before the task is detected."""
    name, raw, problems, entry = _read(ref, sandbox, display_name)
    if not raw and not problems:
        raise DataError(f"{name} has no rows.", "Add examples to the file.")
    file_columns = list(dict.fromkeys(k for r in raw for k in r.data))
    notices: list[str] = []
    raw = _mapped(raw, name, entry, columns, notices)
    columns_seen = list(dict.fromkeys(k for r in raw[:50] for k in r.data))
    if not columns_seen and problems:
        raise DataError(f"{name}: no line could be read.", "Each line of a .jsonl file must be one JSON object.",
                        problems[:MAX_PROBLEMS])
    task = _task_of(name, columns_seen, task, tasks, notices)
    renames = map_columns(columns_seen, TASK_SPECS[task])
    if renames:
        notices.append("Columns mapped: " + ", ".join(f"{a} → {b}" for a, b in renames.items()))
    rows, lines = _valid_rows(name, raw, problems, task, renames)
    rows, note = fill_placeholders(rows, lines, fill or {})
    if note:
        notices.append(note)
    if max_samples:
        rows, lines = rows[:max_samples], lines[:max_samples]
    if len(rows) < MIN_ROWS:
        raise DataError(f"{name} has only {len(rows)} usable rows; at least {MIN_ROWS} are needed.",
                        "Add more examples (a few hundred give a visible effect).")
    return Dataset(ref, task, rows, lines, notices, file_columns)


PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def fill_placeholders(rows: list[dict], lines: list[int], values: dict[str, str]) -> tuple[list[dict], str | None]:
    """Replace ``{{name}}`` placeholders (as in identity datasets written as templates) with
    ``values``; returns the rows and a notice naming those left unfilled (they train as written)."""
    def sub(v: Any) -> Any:
        if isinstance(v, str):
            return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], v)
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        return v

    found: dict[str, int] = {}
    first: int | None = None
    out = []
    for row, line in zip(rows, lines):
        filled = sub(row) if values else row
        left = {m for v in _strings(filled) for m in PLACEHOLDER.findall(v)}
        for name in left:
            found[name] = found.get(name, 0) + 1
        if left and first is None:
            first = line
        out.append(filled)
    if not found:
        return out, None
    names = ", ".join("{{" + n + "}}" for n in sorted(found))
    example = ", ".join(f'"{n}": "..."' for n in sorted(found))
    rows_with = max(found.values())
    return out, (f"⚠ {rows_with} row(s) still hold template placeholders ({names}, first on line {first}): they "
                 f"would be learned as written. Fill them with the setting template_values, e.g. {{{example}}}.")


def _strings(v: Any):
    if isinstance(v, str):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)


def place_tools(rows: list[dict], chat_template: str | None, model: str) -> tuple[list[dict], str | None]:
    """Rows with tool specs (a ``tools`` column), ready for the model's chat template: kept for a
    template that renders tools, otherwise written into the system message as JSON, with a notice
    naming the model."""
    import json

    from .tasks import tool_specs

    if not any(r.get("tools") for r in rows) or "tools" in (chat_template or ""):
        return rows, None
    out = []
    for r in rows:
        specs = tool_specs(r.get("tools")) if r.get("tools") else None
        if not specs:
            out.append(r)
            continue
        msgs = list(r["messages"])
        text = "Tools you can call (JSON function specs):\n" + json.dumps(specs, ensure_ascii=False)
        if msgs and msgs[0]["role"] == "system":
            msgs[0] = {"role": "system", "content": msgs[0]["content"] + "\n\n" + text}
        else:
            msgs = [{"role": "system", "content": text}] + msgs
        out.append({**{k: v for k, v in r.items() if k != "tools"}, "messages": msgs})
    return out, (f"The chat template of {model} has no place for tool specs: they are given to it in the system "
                 "message instead, as JSON text. A model whose template takes tools (for example Qwen2.5 or "
                 "Llama 3.1 Instruct) learns tool calls in its own format.")


def sft_dataset(rows: list[dict], task: str):
    """A ``datasets.Dataset`` in TRL's conversational prompt-completion format."""
    import datasets

    examples = [ex for r in rows for ex in prompt_completion_pairs(r, task)]
    return datasets.Dataset.from_list(examples)


from .formats import ALIGNMENT_TASKS, clip_prompts, preference_dataset, prompt_dataset, unpaired_dataset  # noqa: E402

__all__ = ["ALIGNMENT_TASKS", "Dataset", "Problem", "SAMPLES_DIR", "TASK_SPECS", "clip_prompts", "excerpt", "load",
           "preference_dataset", "prompt_dataset", "prompt_messages", "reference_answer", "reference_answers",
           "resolve_source", "samples", "sft_dataset", "unpaired_dataset"]
