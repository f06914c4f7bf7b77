"""The page: a Gradio Blocks app with one tab per module (finetune, models, playground, hub).

Each tab module exposes ``build(ctx)``, called inside its ``gr.Tab``. ``ctx`` is a
:class:`UIContext` shared by all tabs: the few components and hooks one tab needs from
another. The page holds no training logic; the engine does the work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from ..serving.auth import AppOptions

TAB_IDS = ("finetune", "models", "playground", "hub")

CSS = """
.mf-title h1 { margin-bottom: 0; }
.mf-title p { margin-top: 2px; opacity: .75; }
.mf-section h3 { margin: 4px 0 2px 0; }
.mf-warning { border-left: 4px solid #e8a317; padding-left: 8px; }
.mf-warning.mf-ok { border-left-color: #3ba55d; }
.mf-progress { padding: 6px 2px 2px 2px; }
.mf-bar { height: 14px; border-radius: 7px; background: var(--block-border-color, #ddd); overflow: hidden; }
.mf-fill { height: 100%; background: var(--color-accent, #f97316); transition: width .3s ease; }
.mf-completed .mf-fill { background: #3ba55d; }
.mf-failed .mf-fill, .mf-interrupted .mf-fill { background: #d9534f; }
.mf-stopped .mf-fill { background: #8a8a8a; }
.mf-progress-text { font-size: 0.9em; margin-top: 4px; font-variant-numeric: tabular-nums; }
.mf-log-pre { margin: 0; padding: 4px 8px; font-family: var(--font-mono, monospace); font-size: 12px;
               white-space: pre-wrap; word-break: break-word; min-height: 200px; }
#mf-log, #mf-log.generating { border: 1px solid var(--block-border-color) !important; animation: none !important; }
.mf-error textarea { color: #b52a2a !important; }
/* tables: long words break instead of pushing columns out of the box */
.table-wrap th, .table-wrap td { overflow-wrap: anywhere; }
/* messages in code blocks wrap at the box's width */
#mf-data-status pre, #mf-data-status code, .mf-section .prose pre { white-space: pre-wrap; word-break: break-word; }
/* the end-of-run before/after table: the prompt column keeps room to be read */
#mf-run-end table th:first-child, #mf-run-end table td:first-child { min-width: 9em; }
/* every button looks like one, the small secondary ones included */
button.secondary { border: 1px solid var(--border-color-primary, #c4c4c4) !important; }
"""


@dataclass
class UIContext:
    """What the tabs share. Kept small on purpose.

    ``demo``            the Blocks app (for ``demo.load`` listeners)
    ``tabs``            the ``gr.Tabs``; its tab ids are ``TAB_IDS``, so a handler can switch tab
                        by returning ``gr.Tabs(selected="playground")``
    ``run_finished``    a hidden Textbox the Finetune tab sets to a run's id when it ends:
                        listen to its ``.change`` to refresh lists of models
    ``playground_model``  the Playground's model picker, set by the Playground tab's build (None
                        until then): the Models tab can output to it to preselect a model
    ``after_build``     callbacks run with ``ctx`` once every tab is built, to wire a tab to a
                        component another tab creates later (the Models tab is built before the
                        Playground)
    ``options``         how the app is served (public? a login? an API key?), from ``build_app``
    """

    demo: gr.Blocks
    tabs: gr.Tabs
    run_finished: gr.Textbox
    playground_model: Any = None
    after_build: list[Callable[["UIContext"], None]] = field(default_factory=list)
    options: AppOptions = field(default_factory=AppOptions)


def build_app(options: AppOptions | None = None) -> gr.Blocks:
    """The whole page. Heavy ML libraries are not imported here: the page comes up in seconds.
    ``options``: how app.py serves it (public, login, API key); the default is a local app, no login.
    The OpenAI-compatible endpoint (``/v1``, :mod:`forge.serving.openai_api`) reads them too."""
    from ..serving.openai_api import OPTIONS_ATTR
    from . import finetune, hub, mcp_tools, models, playground

    options = options or AppOptions()

    with gr.Blocks(title="ModelForge", analytics_enabled=False) as demo:
        gr.Markdown("# ModelForge\nFine-tune a language model without writing code: pick a model and a dataset, "
                    "press Start, watch the loss fall.", elem_classes="mf-title")
        hub.share_banner(options)  # shared through a public link without a login: say so at the top
        run_finished = gr.Textbox(visible=False, label="run_finished")
        quiet = gr.HTML(visible=False, elem_id="mf-quiet")  # where events that show no progress report it
        with gr.Tabs() as tabs:
            ctx = UIContext(demo=demo, tabs=tabs, run_finished=run_finished, options=options)
            with gr.Tab("Finetune", id="finetune"):
                finetune.build(ctx)
            with gr.Tab("Models", id="models"):
                models.build(ctx)
            with gr.Tab("Playground", id="playground"):
                playground.build(ctx)
            with gr.Tab("Hub", id="hub"):
                hub.build(ctx)
        for hook in ctx.after_build:
            hook(ctx)
        mcp_tools.build()  # /start_run, /follow_run, /list_datasets: one call each (MCP tools, API)
    narrow_progress(demo, quiet)
    demo.queue(default_concurrency_limit=int(os.environ.get("MODELFORGE_CONCURRENCY", "4")))
    setattr(demo, OPTIONS_ATTR, options)  # the /v1 routes read the access rule's inputs here
    return demo


def narrow_progress(demo: gr.Blocks, quiet: gr.Component) -> None:
    """Give every event few progress targets. The page updates the loading status of every component
    any event has ever reported progress on, at each streamed update (finding each one in the whole
    layout, and reading every component inside a layout block), so a Playground answer slowed the
    page more the more of it had been used. Events that show no progress report it on ``quiet``
    (one hidden element near the top); the others on their outputs that are not layout blocks."""
    from gradio.components import Component

    for fn in demo.fns.values():
        if fn.show_progress_on:
            continue
        shown = [] if fn.show_progress == "hidden" else [o for o in fn.outputs if isinstance(o, Component)]
        fn.show_progress_on = shown or [quiet]


def launch_kwargs(mcp: bool = False) -> dict[str, Any]:
    """Keyword arguments of ``demo.launch`` that every launch of the page uses (the server also
    serves the OpenAI-compatible ``/v1`` routes). ``mcp``: also serve the studio's actions as MCP
    tools at ``/gradio_api/mcp/`` (:mod:`forge.ui.mcp_tools`)."""
    from ..serving.openai_api import routes
    from .inputs import MAX_UPLOAD_MB
    from .mcp_tools import app_kwargs

    return {"css": CSS, "max_file_size": f"{MAX_UPLOAD_MB}mb", "show_error": True, "mcp_server": mcp,
            "app_kwargs": {"routes": routes(), **app_kwargs(mcp)}}


__all__ = ["CSS", "TAB_IDS", "UIContext", "build_app", "launch_kwargs"]
