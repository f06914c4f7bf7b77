"""Repository names under the Hub's rules: what is wrong with one, and a valid name made from a title."""

from __future__ import annotations

import re

from ..catalog import HUB_ID
from ..errors import HubError

_NAME_CHARS = re.compile(r"^[A-Za-z0-9._-]+$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_MAX_LENGTH = 96


def repo_id_problem(repo_id: str | None) -> str | None:
    """What is wrong with a repository name under the Hub's naming rules; None when it is valid.

    ``namespace/name``: the namespace is a user or organization name (letters, digits and
    ``-``, not at either end); the name uses letters, digits, ``-``, ``_`` and ``.``, does not
    start or end with ``-`` or ``.``, holds no ``--`` or ``..``, does not end in ``.git``, and
    the whole id is at most 96 characters.
    """
    rid = (repo_id or "").strip()
    if not rid:
        return "Give a repository name like your-name/my-model."
    if rid.count("/") != 1:
        return (f"'{rid}' must be namespace/name: your user or organization name, a slash, then the model's "
                f"name (for example your-name/{repo_slug(rid.replace('/', '-')) if rid.strip('/') else 'my-model'}).")
    namespace, name = rid.split("/")
    if not namespace or not name:
        return "Both parts are needed: namespace/name, for example your-name/my-model."
    if len(rid) > _MAX_LENGTH:
        return f"'{rid}' is {len(rid)} characters long; the Hub allows at most {_MAX_LENGTH}."
    if not _NAMESPACE.match(namespace):
        return (f"The namespace '{namespace}' may only hold letters, digits and '-', and may not start or end "
                f"with '-'.")
    return _name_problem(rid, name)


def _name_problem(rid: str, name: str) -> str | None:
    """What is wrong with the name part of ``rid`` (its namespace already checked)."""
    if not _NAME_CHARS.match(name):
        bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9._-]", c)})
        return f"The name '{name}' holds characters the Hub does not allow ({' '.join(repr(c) for c in bad)}): " \
               f"use letters, digits, '-', '_' and '.'."
    if name[0] in "-." or name[-1] in "-.":
        return f"The name '{name}' may not start or end with '-' or '.'."
    if "--" in rid or ".." in rid:
        return f"'{rid}' holds '--' or '..', which the Hub forbids."
    if name.lower().endswith(".git"):
        return f"The name '{name}' may not end in '.git'."
    return None


def check_repo_id(repo_id: str | None) -> str:
    """The repository id, stripped, or a HubError saying what is wrong with it."""
    problem = repo_id_problem(repo_id)
    if problem:
        raise HubError(f"Invalid repository name: {problem}",
                       "Names follow the Hub's rules: namespace/name, letters, digits, '-', '_' and '.', at most "
                       "96 characters.")
    return repo_id.strip()


def check_hub_id(repo_id: str, what: str) -> str:
    """``repo_id`` stripped when it is a Hub ``org/name`` of a ``model`` or ``dataset``; else a HubError."""
    rid = (repo_id or "").strip()
    if not HUB_ID.match(rid) or repo_id_problem(rid):
        raise HubError(f"'{repo_id}' is not a Hub {what} id.", f"Give it as org/name, for example "
                       f"{'HuggingFaceTB/SmolLM2-360M-Instruct' if what == 'model' else 'tatsu-lab/alpaca'}.")
    return rid


def repo_slug(title: str) -> str:
    """``title`` as the name part of a repository: letters, digits, '.', '_' and '-' (at most 80)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.")
    s = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", s))
    return (s or "model")[:80]
