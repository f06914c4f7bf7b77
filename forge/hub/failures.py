"""The Hub library's exceptions as ForgeErrors with a plain message and a fix, the token scrubbed."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from ..errors import ForgeError, HubError, OfflineError
from .tokens import scrub

log = logging.getLogger(__name__)

# What the Hub's refusals mean, by HTTP status: (what went wrong, how to fix it).
_HTTP_REFUSALS = {
    401: ("the Hub refused the token (401 Unauthorized): it is invalid or expired.",
          "Create a new token at huggingface.co/settings/tokens and paste it in the token field (or HF_TOKEN)."),
    403: ("the token is not allowed to do this (403 Forbidden).",
          "Use a token with write access, and a namespace you (or your organization) own."),
    402: ("this needs a paid plan or billing on the account (402).",
          "Pick free hardware, or set up billing on huggingface.co/settings/billing."),
}


@contextlib.contextmanager
def hub_errors(what: str, token: str | None = None) -> Iterator[None]:
    """Turn any failure of the block into a ForgeError saying ``what`` failed and how to fix it."""
    try:
        yield
    except ForgeError:
        raise
    except Exception as e:
        err = _translate(e, what, token)
        log.info("%s: %s", what, scrub(repr(e), token)[:500])
        raise err from None


def _translate(e: BaseException, what: str, token: str | None = None) -> ForgeError:
    """A Hub library exception as a ForgeError with a plain message (the token scrubbed); its HTTP
    status, when it has one, as ``status``."""
    if isinstance(e, ForgeError):
        return e
    detail = scrub(str(e).splitlines()[0] if str(e) else type(e).__name__, token)[:300]
    status = getattr(getattr(e, "response", None), "status_code", None)
    err = (_library_error(e, what, detail) or _http_error(e, what, detail, status)
           or _connection_error(e, what, detail)
           or HubError(f"{what} failed: {type(e).__name__}: {detail}", "Try again; if it persists, report it."))
    err.status = status  # type: ignore[attr-defined]
    return err


def _library_error(e: BaseException, what: str, detail: str) -> ForgeError | None:
    """The huggingface_hub exceptions that say what is wrong by their type."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(e, OfflineModeIsEnabled):
        return OfflineError(f"{what} needs the Hub, and offline mode is on (HF_HUB_OFFLINE).",
                            "Unset HF_HUB_OFFLINE and restart ModelForge.")
    if isinstance(e, GatedRepoError):
        return HubError(f"{what} failed: the repository is gated.",
                        "Accept its conditions on its Hub page with your account, then use a token of that account.")
    if isinstance(e, RepositoryNotFoundError):
        return HubError(f"{what} failed: the repository does not exist, or it is private and the token cannot see "
                        "it.", "Check the name, or use a token with access to it.")
    if isinstance(e, HFValidationError):
        return HubError(f"{what} failed: {detail}", "Check the repository name.")
    return None


def _http_error(e: BaseException, what: str, detail: str, status: int | None) -> ForgeError | None:
    from huggingface_hub.errors import HfHubHTTPError

    if not isinstance(e, HfHubHTTPError):
        return None
    if status in _HTTP_REFUSALS:
        message, hint = _HTTP_REFUSALS[status]
        return HubError(f"{what} failed: {message}", hint)
    return HubError(f"{what} failed: the Hub answered {status or 'with an error'}: {detail}",
                    "Try again in a moment; if it persists, check status.huggingface.co.")


def _connection_error(e: BaseException, what: str, detail: str) -> ForgeError | None:
    name = type(e).__name__
    if isinstance(e, (ConnectionError, TimeoutError, OSError)) or "Connect" in name or "Timeout" in name:
        return OfflineError(f"{what} failed: the connection to the Hub broke ({name}: {detail}).",
                            "Check the internet connection and try again.")
    return None
