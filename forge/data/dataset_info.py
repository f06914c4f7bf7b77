"""Folders described by a ``dataset_info.json`` (LLaMA-Factory's layout): each key names a
dataset with its ``file_name``, ``formatting`` (alpaca or sharegpt), ``ranking`` (preference
pairs), ``columns`` and, for sharegpt, message ``tags``.

A dataset of such a folder is referenced as ``FOLDER:NAME``; its columns and tags become a
column mapping (:mod:`forge.data.columns`), so it trains like any file with that mapping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from . import columns as colmap

INFO = "dataset_info.json"
FORMATTINGS = ("alpaca", "sharegpt")
INFO_COLUMNS = ("prompt", "query", "response", "history", "messages", "system", "tools", "chosen", "rejected",
                "kto_tag")
IGNORED_COLUMNS = ("images", "videos", "audios")  # multimodal: not trained here
# LLaMA-Factory's default column names, used when the file has them and the entry names none
ALPACA_DEFAULTS = {"prompt": "instruction", "query": "input", "response": "output"}
SHAREGPT_DEFAULTS = {"messages": "conversations"}


@dataclass
class Entry:
    """One dataset of a dataset_info.json: its file and the column mapping it declares."""

    name: str
    file: Path
    formatting: str
    ranking: bool
    columns: dict[str, str] = field(default_factory=dict)  # declared: canonical role -> column
    defaults: dict[str, str] = field(default_factory=dict)  # the format's defaults, used when present


def split_ref(ref: str, *, sandbox: bool = False) -> tuple[Path, str | None] | None:
    """``(folder, name)`` when ``ref`` is ``FOLDER:NAME`` or a folder holding a dataset_info.json
    (name None); None for any other reference."""
    ref = ref.strip()
    candidates = [(ref, None)]
    if ":" in ref and not ref.startswith("sample:"):
        left, _, name = ref.rpartition(":")
        candidates.insert(0, (left, name.strip() or None))
    for where, name in candidates:
        if not where:
            continue
        folder = Path(where).expanduser()
        if folder.name == INFO:
            folder = folder.parent
        if sandbox and not folder.is_absolute():
            from ..settings import get_settings

            folder = get_settings().datasets_dir / folder
        if (folder / INFO).is_file():
            if sandbox:
                from ..sandbox import check_path

                folder = check_path(folder, "dataset")
            return folder, name
    return None


def read_info(folder: Path) -> dict[str, Any]:
    path = folder / INFO
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise DataError(f"{path} is not valid JSON ({type(e).__name__}: {str(e)[:120]}).",
                        "Fix the file: an object of dataset names, each with its file_name.") from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: expected an object of dataset names.", 'Write it as {"name": {"file_name": ...}}.')
    return info


def names(folder: Path) -> list[str]:
    """The datasets a dataset_info.json offers (those with a local file)."""
    return [k for k, v in read_info(folder).items() if isinstance(v, dict) and "file_name" in v]


def references(folder: Path) -> list[str]:
    return [f"{folder}:{n}" for n in names(folder)]


def entry(folder: Path, name: str | None) -> Entry:
    """The entry ``name`` of the folder's dataset_info.json, checked; DataError naming the file,
    the dataset and the key otherwise."""
    info = read_info(folder)
    offered = names(folder)
    if name is None:
        raise DataError(f"{folder} holds a {INFO} with {len(offered)} dataset(s); name the one to use.",
                        "Use one of: " + ", ".join(f"{folder}:{n}" for n in offered) + ".")
    where = f"{INFO}, dataset '{name}'"
    spec = info.get(name)
    if not isinstance(spec, dict):
        raise DataError(f"{folder / INFO} has no dataset '{name}'.",
                        f"Use one of: {', '.join(offered) or '(none)'} (as {folder}:NAME).")
    if "file_name" not in spec:
        remote = [k for k in ("hf_hub_url", "ms_hub_url", "script_url") if k in spec]
        raise DataError(f"{where}: no file_name" + (f" (it points to {remote[0]}, which is not read here)"
                                                     if remote else "") + ".",
                        "Give the file_name of a file in the folder.")
    file = _file_of(folder, spec["file_name"], where)
    formatting = spec.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        raise DataError(f"{where}: formatting is '{formatting}'; expected one of: {', '.join(FORMATTINGS)}.",
                        "Set formatting to alpaca (instruction, input, output) or sharegpt (a list of messages).")
    return Entry(name, file, formatting, bool(spec.get("ranking", False)), _declared(spec, where),
                 dict(SHAREGPT_DEFAULTS if formatting == "sharegpt" else ALPACA_DEFAULTS))


def _file_of(folder: Path, file_name: Any, where: str) -> Path:
    if not isinstance(file_name, str) or not file_name.strip():
        raise DataError(f"{where}: file_name must be the name of a file in {folder}.", "Give the file's name.")
    file = (folder / file_name).resolve()
    if folder.resolve() not in file.parents:
        raise DataError(f"{where}: file_name '{file_name}' lies outside the folder {folder}.",
                        "Name a file inside the folder that holds dataset_info.json.")
    if file.is_dir():
        raise DataError(f"{where}: file_name '{file_name}' is a folder; one file per dataset is read here.",
                        "Name a .json, .jsonl, .csv or .parquet file.")
    if not file.is_file():
        raise DataError(f"{where}: file_name '{file_name}' does not exist in {folder}.",
                        "Check the name, or add the file.")
    return file


def _declared(spec: dict, where: str) -> dict[str, str]:
    """The entry's columns and tags as a column mapping (canonical roles)."""
    out: dict[str, str] = {}
    for group, known in (("columns", INFO_COLUMNS + IGNORED_COLUMNS), ("tags", tuple(colmap.TAGS))):
        value = spec.get(group) or {}
        if not isinstance(value, dict):
            raise DataError(f"{where}: {group} must be an object.", f"Write {group} as {{\"key\": \"name\"}}.")
        for key, col in value.items():
            if key not in known:
                raise DataError(f"{where}: {group}.{key} is not a known key.", f"Use: {', '.join(known)}.")
            if key in IGNORED_COLUMNS or col in (None, ""):
                continue
            if not isinstance(col, str):
                raise DataError(f"{where}: {group}.{key} must be a name (text), found {type(col).__name__}.",
                                "Give the column's name.")
            out[colmap.SYNONYMS.get(key, key)] = col
    return out


def mapping_for(e: Entry, columns: list[str]) -> dict[str, str]:
    """The column mapping an entry makes for a file with ``columns``: its declared columns (each
    must exist: DataError naming dataset_info.json, the dataset and the key), then the format's
    defaults that the file has."""
    missing = [(k, c) for k, c in e.columns.items() if k in colmap.ROLES and c not in columns]
    if missing:
        key = {v: k for k, v in colmap.SYNONYMS.items()}
        lines = [f"columns.{key.get(k, k) if k == 'label' else k}: '{c}'" for k, c in missing]
        raise DataError(f"{INFO}, dataset '{e.name}': {'; '.join(lines)} not in {e.file.name} "
                        f"(its columns: {', '.join(columns) or '(none)'}).",
                        f"Correct the columns of '{e.name}' in {INFO} to the file's column names.")
    mapping = {k: c for k, c in e.defaults.items() if c in columns and k not in e.columns
               and not (e.ranking and k == "response")}
    return {**mapping, **e.columns}
