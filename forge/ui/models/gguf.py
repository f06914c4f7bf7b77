"""The Models tab's GGUF export: pick a type (each with the size its file will have), export with
progress, download the ``.gguf`` file; and the ``/export_gguf`` API action.

The engine does the work (``forge.gguf_export``); this module lays out the widgets and turns its
answers and errors into what the page shows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from ..widgets import bind
from .data import warning
from .detail import Panel

TITLE = "Export as GGUF (llama.cpp, Ollama, LM Studio)"


def type_choices(sizes: dict[str, int] | None) -> list[tuple[str, str]]:
    """Radio choices: each type with its description and, when known, its file's size."""
    from ...gguf_export import DESCRIPTIONS
    from ...models import human_size

    return [(f"{q} · {DESCRIPTIONS[q]}" + (f" · ~{human_size(sizes[q])}" if sizes else ""), q) for q in DESCRIPTIONS]


def sizes(model_id: str) -> tuple[dict[str, int] | None, str]:
    """Each type's file size for a model, or why they are unknown (shown on the panel; the rest of
    the detail still fills)."""
    from ... import gguf_export

    missing = gguf_export.converter_missing()
    if missing:
        return None, f"⚠ {missing} {gguf_export.INSTALL_HINT}."
    try:
        return gguf_export.estimate_sizes(model_id), ""
    except Exception as e:
        return None, warning(e)


def download_file(model_id: str) -> str:
    """The ``.gguf`` file of a GGUF model, placed where the web server may serve it from."""
    import os
    import shutil

    from ... import models
    from ...gguf_export import gguf_path

    src = gguf_path(models.get_record(model_id))
    dest = models.export_folder(model_id) / src.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.is_file() or dest.stat().st_size != src.stat().st_size:
        dest.unlink(missing_ok=True)
        try:
            os.link(src, dest)  # same disk: no copy
        except OSError:
            shutil.copy2(src, dest)
    return str(dest)


@dataclass
class GgufPanel(Panel):
    """The accordion in the model's detail: a GGUF model offers its file; any other, the types and sizes."""

    accordion: gr.Accordion
    quant: gr.Radio
    button: gr.Button
    message: gr.Markdown
    file: gr.File

    def fill(self, d):
        if not d:
            return {self.accordion: gr.update(visible=False), self.message: "",
                    self.file: gr.update(value=None, visible=False)}
        return self._offer_file(d) if d.get("kind") == "gguf" else self._offer_types(d)

    def _offer_file(self, d: dict[str, Any]) -> dict[Any, Any]:
        hidden = {self.quant: gr.update(visible=False), self.button: gr.update(visible=False)}
        try:
            path = download_file(d["id"]) if d.get("files_ok") else None
        except Exception as e:
            return {**hidden, self.accordion: gr.update(visible=True), self.message: warning(e),
                    self.file: gr.update(visible=False)}
        return {**hidden, self.accordion: gr.update(visible=True, label="GGUF file"),
                self.message: "Run it with `ollama create my-model -f Modelfile` in its folder, or open the file in "
                              f"LM Studio or llama.cpp. Folder: `{html.escape(str(d.get('folder')))}`",
                self.file: gr.update(value=path, visible=bool(path))}

    def _offer_types(self, d: dict[str, Any]) -> dict[Any, Any]:
        known, problem = sizes(d["id"])
        return {self.accordion: gr.update(visible=True, label=TITLE),
                self.quant: gr.update(choices=type_choices(known), value="q8_0", visible=True),
                self.button: gr.update(visible=True), self.message: problem,
                self.file: gr.update(value=None, visible=False)}


def export_file(panel: GgufPanel, model_id: str | None, quant: str, progress=gr.Progress()) -> dict[Any, Any]:
    """Export, then show the file for download (the tab refreshes its list of models after)."""
    from ... import gguf_export

    if not model_id:
        return gr.skip()
    try:
        new = gguf_export.export_gguf(model_id, quant or "q8_0", progress=lambda f, m: progress(f, desc=m))
        path = download_file(new["id"])
    except Exception as e:
        return {panel.message: warning(e), panel.file: gr.update(visible=False)}
    return {panel.message: f"✓ Exported **{html.escape(new['name'])}**: listed above as a GGUF model, with an Ollama "
                           f"`Modelfile` in `{html.escape(new['folder'])}`.",
            panel.file: gr.update(value=path, visible=True)}


def export_gguf_api(model: str, quant: str = "q8_0", name: str = "") -> dict:
    """Export a model as a GGUF file for llama.cpp, Ollama and LM Studio. model: a fine-tuned model's
    id or name (an adapter is merged into its base first), a run id, or a base model (its Hub id,
    e.g. HuggingFaceTB/SmolLM2-135M-Instruct). quant: f16 (answers as the source), q8_0 (default,
    near-lossless) or q4_0 (4-bit, smallest). name: the new model's name (optional). Returns the new
    model record (kind 'gguf'): its id, name, folder (the .gguf file and an Ollama Modelfile) and
    size. Takes from seconds to minutes.

    Args:
        model: a fine-tuned model's id or name, a run id, or a base model's Hub id
        quant: f16, q8_0 or q4_0
        name: the new model's name (optional)
    """
    from ... import gguf_export

    return gguf_export.export_gguf((model or "").strip(), quant or "q8_0", name or None)


def gguf_panel(ctx, selected: gr.State, after: Callable[[], Any], after_outputs: list[Any]) -> GgufPanel:
    """Lay out the accordion (in the model's detail) and wire its export; ``after`` refreshes the
    tab's list of models once a file is made."""
    with gr.Accordion(TITLE, open=False, visible=False, elem_id="mf-gguf") as acc:
        quant = gr.Radio(type_choices(None), value="q8_0", label="Type (size of the file)", elem_id="mf-gguf-type")
        button = gr.Button("Export GGUF", size="sm", elem_id="mf-gguf-export")
        message = gr.Markdown("", elem_id="mf-gguf-message")
        file = gr.File(label="GGUF file", visible=False, interactive=False, elem_id="mf-gguf-file")
    panel = GgufPanel(acc, quant, button, message, file)
    button.click(bind(export_file, panel), [selected, quant], [message, file], api_visibility="private",
                 show_progress_on=[message]).then(after, None, after_outputs, api_visibility="private",
                                                  show_progress="hidden")
    return panel


__all__ = ["GgufPanel", "download_file", "export_file", "export_gguf_api", "gguf_panel", "sizes", "type_choices"]
