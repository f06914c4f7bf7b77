"""Playground tab: chat with a base or fine-tuned model (coming with its own issue)."""

from __future__ import annotations

import gradio as gr


def build(ctx) -> None:
    gr.Markdown("### Playground\nComing soon: chat with a fine-tuned model beside its base model.")
    # The real tab sets ctx.playground_model to its model picker so the Models tab can preselect it.
    ctx.playground_model = None
