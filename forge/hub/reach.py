"""Reaching the Hub fast or saying why not: a deadline for each metadata call, a connection check.

``HF_HUB_OFFLINE`` or a failed socket probe (``catalog.hub_reachable``) answers at once, and each
metadata call has a deadline, so an offline machine or a blocked network gets a plain message within
5 seconds. Uploads and downloads themselves take as long as the files need.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

from ..errors import HubError, OfflineError
from ..settings import get_settings
from .client import CALL_TIMEOUT, PROBE_TIMEOUT, HubClient, client_for


def switched_off() -> OfflineError:
    """The error for any Hub action while ``HF_HUB_OFFLINE`` is set."""
    return OfflineError("The Hugging Face Hub is switched off on this machine (HF_HUB_OFFLINE is set).",
                        "Unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) and restart ModelForge to use the Hub. "
                        "Models already downloaded and the embedded default still work offline.")


def bounded(fn: Callable[[], Any], what: str, timeout: float = CALL_TIMEOUT) -> Any:
    """``fn()``, or a HubError when it has not answered within ``timeout`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 — re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True, name=f"hub-{what[:20]}")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise HubError(f"The Hugging Face Hub did not answer within {timeout:.0f} seconds ({what}).",
                       "The connection is slow or blocked (a proxy or firewall?). Try again in a moment.")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def ensure_online(client: HubClient) -> None:
    """Raise OfflineError at once when the client cannot reach the Hub from this machine."""
    try:
        ok = bounded(client.reachable, "connection check", PROBE_TIMEOUT + 0.5)
    except HubError:
        ok = False
    if ok:
        return
    if get_settings().offline:
        raise switched_off()
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    raise OfflineError(f"This machine cannot reach the Hugging Face Hub ({endpoint}).",
                       "Check the internet connection (or proxy) and try again. Models already downloaded and the "
                       "embedded default still work offline.")


def connect(token: str | None) -> HubClient:
    """A client for ``token`` (already resolved; None: anonymous) once the Hub answers."""
    client = client_for(token)
    ensure_online(client)
    return client
