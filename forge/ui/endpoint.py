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

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from .widgets import friendly_error


def description(fn: Callable) -> str:
    """The action's description: its docstring before the ``Args:`` section (Gradio's own reading,
    the one its MCP server uses), on one line."""
    from gradio.utils import get_function_description

    return " ".join(get_function_description(fn)[0].split())


def _wrap_asyncgen(fn: Callable, fail: Callable) -> Callable:
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            async for item in fn(*args, **kwargs):
                yield item
        except Exception as e:
            raise fail(e) from None
    return wrapper


def _wrap_coroutine(fn: Callable, fail: Callable) -> Callable:
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except Exception as e:
            raise fail(e) from None
    return wrapper


def _wrap_generator(fn: Callable, fail: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            yield from fn(*args, **kwargs)
        except Exception as e:
            raise fail(e) from None
    return wrapper


def _wrap_plain(fn: Callable, fail: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            raise fail(e) from None
    return wrapper


def guarded(fn: Callable, where: str, clean: Callable[[str], str] = str) -> Callable:
    """``fn`` with every error raised as ``gr.Error`` carrying the friendly message for ``where``;
    a ``gr.Error`` passes through unchanged. The wrapper is of the same kind as ``fn``."""

    def fail(e: BaseException) -> gr.Error:
        return e if isinstance(e, gr.Error) else gr.Error(friendly_error(e, where, clean), print_exception=False)

    if inspect.isasyncgenfunction(fn):
        return _wrap_asyncgen(fn, fail)
    if inspect.iscoroutinefunction(fn):
        return _wrap_coroutine(fn, fail)
    if inspect.isgeneratorfunction(fn):
        return _wrap_generator(fn, fail)
    return _wrap_plain(fn, fail)


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
