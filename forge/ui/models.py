"""Models tab: the fine-tuned models (coming with its own issue)."""

from __future__ import annotations

import gradio as gr


def build(ctx) -> None:
    gr.Markdown("### Models\nComing soon: every model your runs produced, to rename, merge, export and "
                "open in the Playground. Until then, finished runs are listed under History on the Finetune tab.")
