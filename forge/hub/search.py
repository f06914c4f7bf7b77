"""Searching the Hub for text-generation models and datasets."""

from __future__ import annotations

from ..errors import HubError
from .failures import hub_errors
from .reach import bounded, connect
from .tokens import resolve_token

LICENSES = ["apache-2.0", "mit", "llama3.2", "llama3.1", "gemma", "openrail", "cc-by-4.0", "cc-by-sa-4.0",
            "bsd-3-clause", "other"]
SORTS = ("downloads", "likes", "trending_score", "last_modified")


def _check_sort(sort: str) -> None:
    if sort not in SORTS:
        raise HubError(f"Unknown sort '{sort}'.", f"Sort by one of: {', '.join(SORTS)}.")


def _limit(limit: int | None) -> int:
    return max(1, min(int(limit or 20), 100))


def search_models(query: str = "", *, sort: str = "downloads", license: str | None = None,
                  max_params_b: float | None = None, limit: int = 20, token: str | None = None) -> list[dict]:
    """Text-generation models on the Hub: ``{id, downloads, likes, params, size, license, ...}``."""
    _check_sort(sort)
    limit = _limit(limit)
    tok = resolve_token(token)
    client = connect(tok)
    fetch = limit * 3 if max_params_b else limit
    with hub_errors("Searching models", tok):
        rows = bounded(lambda: client.list_models(search=(query or "").strip(), sort=sort, limit=fetch,
                                                  license=(license or "").strip() or None), "searching models")
    if max_params_b:
        rows = [r for r in rows if r.get("params") and r["params"] <= float(max_params_b) * 1e9]
    return rows[:limit]


def search_datasets(query: str = "", *, sort: str = "downloads", limit: int = 20,
                    token: str | None = None) -> list[dict]:
    """Datasets on the Hub: ``{id, downloads, likes, size, license, ...}``."""
    _check_sort(sort)
    tok = resolve_token(token)
    client = connect(tok)
    with hub_errors("Searching datasets", tok):
        return bounded(lambda: client.list_datasets(search=(query or "").strip(), sort=sort, limit=_limit(limit)),
                       "searching datasets")
