"""Widget logic shared by several tabs: the dataset source picker (a sample, an uploaded
file, or a path / Hub id) used by the Finetune tab and the Models tab's Evaluate section, the
updates of line plots with one line per series, and :func:`bind`, which hands a module-level
handler the panel it fills."""

from __future__ import annotations

import contextlib
import inspect
import logging
import typing
from collections.abc import Callable

import gradio as gr

from ..errors import ForgeError

log = logging.getLogger(__name__)

SOURCES = ("Sample", "Upload", "Path or Hub id")


def friendly_error(e: BaseException, where: str, clean: Callable[[str], str] = str) -> str:
    """The message a tab shows for an error: a ForgeError's own text (what is wrong and how to fix
    it); anything else is logged with its traceback and shown briefly (``clean`` scrubs secrets)."""
    if isinstance(e, ForgeError):
        return str(e)
    log.exception("unexpected error on %s", where)
    return f"Something went wrong: {type(e).__name__}: {clean(str(e))[:300]}"


def source_visibility(source: str):
    """Show the sample dropdown, the upload box or the path box, as the source radio says."""
    return tuple(gr.update(visible=source == s) for s in SOURCES)


def dataset_ref(source: str, sample: str | None, uploaded: dict | str | None, path: str | None) -> tuple[str, str | None]:
    """The dataset reference the source widgets point at, and a display name. ``uploaded`` is
    the saved upload: its path, or ``{"path", "name"}``."""
    if source == "Upload":
        if isinstance(uploaded, dict):
            return uploaded.get("path") or "", uploaded.get("name")
        return uploaded or "", None
    if source == "Path or Hub id":
        return (path or "").strip(), None
    return sample or "", None


# Loss series: train and eval, and per phase for the strategies that train in phases (RLHF).
LOSS_COLORS = {"train loss": "#f97316", "eval loss": "#2563eb",
               "reward train loss": "#a855f7", "reward eval loss": "#14b8a6",
               "policy train loss": "#f97316", "policy eval loss": "#2563eb"}
LR_COLORS = {"learning rate": "#f97316", "reward learning rate": "#a855f7", "policy learning rate": "#f97316"}


def series_names(df) -> list[str]:
    return sorted({str(s) for s in df["series"]}) if df is not None and "series" in df else []


def series_plot(df):
    """A LinePlot update for a frame with a ``series`` column. Gradio's LinePlot rebuilds its chart
    (and so its colour scale and legend) when a setting such as ``colors_in_legend`` changes, but
    on new data only swaps the data: after one run's plot, another run's new series (its eval loss,
    its metrics) would not be drawn. Naming the series rebuilds the chart. That is enough for a plot
    filled anew on a selection; a streamed plot also gets every series from its first frame
    (``RunView.expected``), as rebuilding it mid-stream was seen not to take."""
    if df is None or not len(df):
        return None
    return gr.update(value=df, colors_in_legend=series_names(df))


def plot_value(df):
    """A plot's data; None while there is none (an empty table would break the plot's later updates)."""
    return df if df is not None and len(df) else None


def same_kind(fn: Callable, first: tuple = (), guard: Callable[[], typing.ContextManager] = contextlib.nullcontext) -> Callable:
    """A function calling ``fn(*first, ...)`` inside ``guard()``, of the same kind as ``fn`` (plain,
    generator, coroutine, async generator): Gradio looks at that kind to call it and stream it."""
    if inspect.isasyncgenfunction(fn):
        async def call(*args, **kwargs):
            with guard():
                async for item in fn(*first, *args, **kwargs):
                    yield item
    elif inspect.iscoroutinefunction(fn):
        async def call(*args, **kwargs):
            with guard():
                return await fn(*first, *args, **kwargs)
    elif inspect.isgeneratorfunction(fn):
        def call(*args, **kwargs):
            with guard():
                yield from fn(*first, *args, **kwargs)
    else:
        def call(*args, **kwargs):
            with guard():
                return fn(*first, *args, **kwargs)
    return call


def bind(fn: Callable, *first: typing.Any) -> Callable:
    """``fn`` with its first arguments given (the panel whose components it fills, say), as Gradio
    should see it: the remaining parameters with their defaults (``gr.Progress()``) and type hints
    (``gr.Request``, ``gr.SelectData``), which ``functools.partial`` would hide from Gradio."""
    bound = same_kind(fn, first)
    params = list(inspect.signature(fn).parameters.values())[len(first):]
    hints = typing.get_type_hints(fn)
    bound.__signature__ = inspect.Signature(params)
    bound.__annotations__ = {p.name: hints[p.name] for p in params if p.name in hints}
    bound.__name__ = bound.__qualname__ = fn.__name__
    bound.__doc__ = fn.__doc__
    return bound
