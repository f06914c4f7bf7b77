"""The account behind a token, and whether it may write a repository."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import HubError
from .client import HubClient
from .failures import hub_errors
from .reach import bounded, connect
from .tokens import need_token, resolve_token, token_source


def whoami(token: str | None = None) -> dict:
    """The account behind the token: ``{name, fullname, orgs, role, token_source}``."""
    source = token_source(token)
    tok = need_token(resolve_token(token), "Checking the account")
    info = _account(connect(tok), tok)
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    return {"name": info.get("name"), "fullname": info.get("fullname") or "",
            "orgs": [o.get("name") for o in info.get("orgs") or [] if o.get("name")],
            "role": role or "", "token_source": source}


def _account(client: HubClient, token: str) -> dict:
    with hub_errors("Checking the token", token):
        return bounded(client.whoami, "checking the token")


def check_namespace(repo_id: str, account: dict) -> None:
    """A HubError unless ``account`` (``{name, orgs: [{name}]}``) may write under ``repo_id``'s namespace."""
    namespace = repo_id.split("/")[0]
    names = {account.get("name") or ""} | {o.get("name") for o in account.get("orgs") or []}
    if namespace not in names:
        raise HubError(f"The token's account '{account.get('name')}' cannot write to '{namespace}'.",
                       f"Use {account.get('name')}/{repo_id.split('/')[1]}, or an organization you belong to"
                       + (f" ({', '.join(sorted(n for n in names if n and n != account.get('name')))})"
                          if len(names) > 1 else "") + ".")


@dataclass
class Destination:
    """A repository the token's account may write, on a Hub that answers."""

    client: HubClient
    token: str
    repo_id: str
    exists: bool
    url: str


def destination(repo_id: str, token: str | None, action: str, repo_type: str = "model") -> Destination:
    """Check, before anything is uploaded, that ``action`` may write ``repo_id`` (checked name): a token
    is set, the Hub answers, the account owns the namespace; and whether the repository exists."""
    tok = need_token(resolve_token(token), action)
    client = connect(tok)
    account = _account(client, tok)
    check_namespace(repo_id, {"name": account.get("name"), "orgs": account.get("orgs") or []})
    what = "the Space" if repo_type == "space" else "the repository"
    with hub_errors(f"Checking whether {'the Space ' if repo_type == 'space' else ''}{repo_id} exists", tok):
        exists = bounded(lambda: client.repo_exists(repo_id, repo_type), f"checking {what}")
    return Destination(client, tok, repo_id, exists, client.url(repo_id, repo_type))
