"""One way to publish an API action: :func:`endpoint` wraps a module-level function so that any
error reaches the caller as a clear ``gr.Error`` (a :class:`~forge.errors.ForgeError`'s own text,
anything else logged and summarised), takes the action's description from the function's
docstring, and registers it with Gradio, either as a plain API action (``gr.api``) or on a
widget's event when the action takes a file upload.

    def runs() -> list[dict]:
        \"\"\"All runs, newest first.\"\"\"
        return history.list_runs()

    endpoint(runs, where="the Finetune tab", concurrency_limit=None)

The wrapper keeps the function's kind (plain, generator, coroutine, async generator), its
signature and its docstring, so Gradio builds the same API schema and parameter descriptions
(from an ``Args:`` section) as for the function itself.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from .widgets import friendly_error, same_kind


def description(fn: Callable) -> str:
    """The action's description: its docstring before the ``Args:`` section (Gradio's own reading,
    the one its MCP server uses), on one line."""
    from gradio.utils import get_function_description

    return " ".join(get_function_description(fn)[0].split())


@contextlib.contextmanager
def errors_shown(where: str, clean: Callable[[str], str] = str):
    """Within it, any error but a ``gr.Error`` becomes a ``gr.Error`` with the friendly message for
    ``where`` (``clean`` scrubs secrets from an unexpected error's text)."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as e:
        raise gr.Error(friendly_error(e, where, clean), print_exception=False) from None


def guarded(fn: Callable, where: str, clean: Callable[[str], str] = str) -> Callable:
    """``fn`` with its errors shown as by :func:`errors_shown`. The wrapper is of the same kind as
    ``fn`` (plain, generator, coroutine, async generator): Gradio looks at that kind to call it."""
    wrapper = same_kind(fn, guard=lambda: errors_shown(where, clean))
    return functools.wraps(fn)(wrapper)


def endpoint(fn: Callable, *, where: str, name: str | None = None, clean: Callable[[str], str] = str,
             trigger: Any = None, inputs: Any = None, outputs: Any = None, **options: Any) -> Any:
    """Publish ``fn`` as the API action ``name`` (default: the function's name without an
    ``_api`` suffix). With ``trigger`` (a widget's event, such as ``button.click``), the action is
    bound to that event with ``inputs`` and ``outputs`` (for actions that take a file); otherwise
    it is a plain ``gr.api`` action. ``options`` go to Gradio (``concurrency_limit``, ...)."""
    api_name = name or fn.__name__.removesuffix("_api")
    wrapped = guarded(fn, where, clean)
    if trigger is None:
        return gr.api(wrapped, api_name=api_name, api_description=description(fn), **options)
    return trigger(wrapped, inputs, outputs, api_name=api_name, api_description=description(fn), **options)
