"""The Hugging Face Hub: publish fine-tuned models, search and download base models and datasets.

One job a module:

    tokens.py     the token in use, where it comes from, scrubbing it out of text
    client.py     HubClient: the one object that talks to the Hub (one method per call)
    reach.py      deadlines for each call, the connection check, a connected client
    failures.py   the Hub library's exceptions as plain ForgeErrors
    names.py      repository names under the Hub's rules
    account.py    the account behind a token; whether it may write a repository
    rows.py       search results as plain rows
    search.py     searching models and datasets
    download.py   downloading base models and datasets
    local.py      where ModelForge keeps models here (the local Hub cache: catalog.cached_models)
    records.py    the run store's models that can be pushed
    provenance.py a model's base (Hub id, licence) and dataset as a card names them
    curves.py     the loss-curve image
    card.py       the model card
    push.py       pushing a model with its card (merging an adapter first when asked)

The token lives in memory only: it is passed to ``huggingface_hub`` as an explicit ``token=``
argument (never ``login()``, so nothing is saved to disk), and nothing here writes it to the run
store, run folders, logs, configs or model cards. Error messages are scrubbed of it. Every action
fails fast when the Hub cannot be reached (``reach.py``). Tests replace ``client.HubClient``.
"""

from __future__ import annotations

from ..catalog import cached_models  # the Hub tab lists the local Hub cache through the Hub
from .account import whoami
from .card import build_card
from .curves import loss_curve_png
from .download import MODEL_PATTERNS, download_dataset, download_model
from .local import storage_info
from .names import check_repo_id, repo_id_problem
from .provenance import base_license
from .push import card_preview, push_model
from .records import pushable_models, suggest_repo_id
from .search import LICENSES, search_datasets, search_models
from .tokens import TOKEN_ENV, scrub, token_source

__all__ = ["LICENSES", "MODEL_PATTERNS", "TOKEN_ENV", "base_license", "build_card", "cached_models", "card_preview",
           "check_repo_id", "download_dataset", "download_model", "loss_curve_png", "push_model", "pushable_models",
           "repo_id_problem", "scrub", "search_datasets", "search_models", "storage_info", "suggest_repo_id",
           "token_source", "whoami"]
