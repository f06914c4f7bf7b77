"""Section 1 of the Finetune tab: the base model, what this machine has, and the memory estimate."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...config import EMBEDDED_MODEL
from ..choices import model_choices


@dataclass
class ModelPanel:
    model_name: gr.Dropdown
    hardware: gr.Markdown
    memory: gr.Markdown

    @property
    def fields(self) -> dict[str, gr.components.Component]:
        """The run settings this panel holds, by RunConfig name."""
        return {"model_name": self.model_name}


def model_panel() -> ModelPanel:
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### 1 · Model")
        model_name = gr.Dropdown(
            model_choices(), value=EMBEDDED_MODEL, allow_custom_value=True, label="Base model",
            info="The embedded default trains offline. Or type a Hub id (org/name) or a folder in models/.",
            elem_id="mf-model")
        hardware = gr.Markdown("Detecting hardware…", elem_id="mf-hardware")
        memory = gr.Markdown("", elem_id="mf-memory", elem_classes="mf-warning mf-ok")
    return ModelPanel(model_name, hardware, memory)


def memory_update(text: str, warn: bool):
    """The memory estimate's box: amber when the run may not fit, green otherwise."""
    return gr.update(value=text, elem_classes=["mf-warning"] if warn else ["mf-warning", "mf-ok"])
