"""Read dataset files row by row, keeping where each row came from.

``datasets`` reads files fast but cannot say on which line a row broke, so files are read
here with the standard parsers (JSON Lines, JSON, CSV) or pyarrow (Parquet), each row tagged
with its line (or row) number; hub dataset ids go through ``datasets.load_dataset``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet",
              ".txt": "txt"}
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based line in the file (row number for Parquet and hub datasets)
    message: str
    excerpt: str = ""

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.message}" + (f" — {self.excerpt}" if self.excerpt else "")

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message, "excerpt": self.excerpt}


@dataclass
class Row:
    line: int
    data: dict[str, Any]


def excerpt(text: str, limit: int = 80) -> str:
    """At most the first ``limit`` characters of an offending line (never more of a file)."""
    text = text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - raw.rfind(b"\n", 0, e.start)
        raise DataError(
            f"{name} is not UTF-8 text.",
            "Save the file as UTF-8 (in most editors: Save as → Encoding → UTF-8).",
            [Problem(name, line, f"byte 0x{raw[e.start]:02x} at column {column} is not valid UTF-8")],
        ) from None


def read_file(path: str | Path, display_name: str | None = None) -> tuple[list[Row], list[Problem]]:
    """Rows of a file, and the problems of the rows that could not be parsed (file-level
    problems such as an empty file or a wrong encoding raise DataError)."""
    path = Path(path)
    name = display_name or path.name
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{name}: unsupported file type '{path.suffix}'.",
                        "Use a .jsonl, .json, .csv, .parquet or .txt file.")
    if not path.is_file():
        raise DataError(f"Dataset file not found: {name}", "Check the path, or upload the file.")
    if path.stat().st_size == 0:
        raise DataError(f"{name} is empty.", "Add rows to the file: one example per line for JSONL.")
    if kind == "parquet":
        return _read_parquet(path, name), []
    text = _decode(path.read_bytes(), name)
    if not text.strip():
        raise DataError(f"{name} is empty (only blank lines).", "Add rows to the file.")
    return {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv, "txt": _read_txt}[kind](text, name)


def _read_txt(text: str, name: str) -> tuple[list[Row], list[Problem]]:
    """Plain text for continued pre-training: each passage (lines up to a blank line) is a row
    ``{"text": ...}``, numbered by its first line."""
    rows, block, start = [], [], 0
    for i, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if not block:
                start = i
            block.append(line)
        elif block:
            rows.append(Row(start, {"text": "\n".join(block)}))
            block = []
    return rows, []


def _read_jsonl(text: str, name: str) -> tuple[list[Row], list[Problem]]:
    rows, problems = [], []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(name, i, f"invalid JSON ({e.msg} at column {e.colno})", excerpt(line)))
            continue
        except RecursionError:
            problems.append(Problem(name, i, "JSON nested too deeply to read (a row is an object of plain "
                                             "fields)", excerpt(line)))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(name, i, f"expected a JSON object {{...}}, found {type(obj).__name__}", excerpt(line)))
            continue
        rows.append(Row(i, obj))
    return rows, problems


def _read_json(text: str, name: str) -> tuple[list[Row], list[Problem]]:
    try:
        obj = json.loads(text)
    except RecursionError:
        raise DataError(f"{name} is JSON nested too deeply to read.",
                        "Write the rows as a list of objects with plain fields, or as JSON Lines (.jsonl).") from None
    except json.JSONDecodeError as e:
        bad = text.splitlines()[e.lineno - 1] if e.lineno - 1 < len(text.splitlines()) else ""
        raise DataError(f"{name} is not valid JSON.", "Fix the syntax on that line, or use JSON Lines (.jsonl).",
                        [Problem(name, e.lineno, f"{e.msg} at column {e.colno}", excerpt(bad))]) from None
    if isinstance(obj, dict):
        # {"data": [...]} or {"train": [...]} or column-oriented {"col": [...]}
        lists = {k: v for k, v in obj.items() if isinstance(v, list)}
        if len(lists) == 1 and all(isinstance(x, dict) for x in next(iter(lists.values()))):
            obj = next(iter(lists.values()))
        elif lists and len(lists) == len(obj) and len({len(v) for v in lists.values()}) == 1:
            obj = [dict(zip(lists, vals)) for vals in zip(*lists.values())]
    if not isinstance(obj, list):
        raise DataError(f"{name}: expected a JSON array of objects.", "Write the file as [{...}, {...}] or use JSON Lines.")
    # line numbers: find where each top-level element starts
    starts = _element_lines(text)
    rows, problems = [], []
    for i, item in enumerate(obj):
        line = starts[i] if i < len(starts) else None
        if not isinstance(item, dict):
            problems.append(Problem(name, line, f"item {i + 1}: expected an object {{...}}, found {type(item).__name__}"))
        else:
            rows.append(Row(line or i + 1, item))
    return rows, problems


# JSON text as tokens: a whole string, a run of whitespace, or any other single character.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]+|\\.)*"|\s+|[^\s"]', re.S)
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def _element_lines(text: str) -> list[int]:
    """The line on which each element of a top-level JSON array starts."""
    out, depth, line, expecting = [], 0, 1, False
    for m in _JSON_TOKENS.finditer(text):
        tok = m.group()
        if expecting and not tok.isspace() and tok not in (",", "]"):
            out.append(line)
            expecting = False
        line += tok.count("\n")
        depth += _NESTING.get(tok, 0)
        expecting = expecting or (depth == 1 and tok in ("[", ","))
    return out


def _read_csv(text: str, name: str) -> tuple[list[Row], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise DataError(f"{name} has no header row.", "The first line of a CSV file must name the columns.")
    rows, problems = [], []
    for rec in reader:
        line = reader.line_num
        if None in rec:  # more cells than header columns
            problems.append(Problem(name, line, f"{len(reader.fieldnames) + len(rec[None])} cells but the header names {len(reader.fieldnames)} columns (quote cells that contain commas)"))
            continue
        rows.append(Row(line, {k: v for k, v in rec.items()}))
    return rows, problems


def _read_parquet(path: Path, name: str) -> list[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise DataError(f"{name} is not a readable Parquet file ({type(e).__name__}).",
                        "Re-export it, e.g. with pandas: df.to_parquet('file.parquet').") from None
    return [Row(i + 1, rec) for i, rec in enumerate(table.to_pylist())]


def read_hub(dataset_id: str, split: str = "train") -> list[Row]:
    from ..catalog import hub_reachable
    from ..errors import OfflineError

    if not hub_reachable():
        # a dataset already in the local cache still loads offline
        import os

        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets

        ds = datasets.load_dataset(dataset_id, split=split)
    except Exception as e:
        if not hub_reachable():
            raise OfflineError(f"Dataset '{dataset_id}' is not a local file, not in the cache, and this machine is offline.",
                               "Upload the file instead, or connect to the internet.") from None
        raise DataError(f"Could not load the Hub dataset '{dataset_id}': {type(e).__name__}: {excerpt(str(e), 200)}",
                        "Check the dataset id and its split name.") from None
    return [Row(i + 1, rec) for i, rec in enumerate(ds)]
