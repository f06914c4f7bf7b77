"""Launch the app for the UI tests: in this process, on a free port (imported by test_app_api and
test_browser; the temporary ModelForge home comes from conftest)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(options=None, **launch_options) -> Iterator[str]:
    """The app's URL while it runs; ``launch_options`` go to ``demo.launch`` over the app's own
    (``launch_kwargs(mcp=True)`` serves the MCP tools). ``options``: the app's AppOptions (public,
    login, API key), as app.py passes them to ``build_app``."""
    from forge.ui import build_app, launch_kwargs

    demo = build_app(options)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **{**launch_kwargs(), **launch_options})
    try:
        yield demo.local_url
    finally:
        demo.close()


def wait_idle(timeout: float = 120) -> None:
    """Wait until no run is queued or training (so a test starts with the queue empty)."""
    import time

    from forge.training import get_queue

    deadline = time.time() + timeout
    while get_queue().active_ids() and time.time() < deadline:
        time.sleep(0.2)
