"""Hub tab: publish to and download from the Hugging Face Hub (coming with its own issue)."""

from __future__ import annotations

import gradio as gr


def build(ctx) -> None:
    gr.Markdown("### Hub\nComing soon: push a fine-tuned model with its model card, search and download models "
                "and datasets, and bundle the app as a Space.")
