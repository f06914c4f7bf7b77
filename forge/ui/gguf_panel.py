"""The Models tab's GGUF export: pick a type (each with the size its file will have), export with
progress, download the ``.gguf`` file; and the ``/export_gguf`` API action.

The engine does the work (``forge.gguf_export``); this module lays out the widgets and turns its
answers and errors into what the page shows.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import gradio as gr

from .models import Panel, _friendly

API_EXPORT_GGUF = (
    "Export a model as a GGUF file for llama.cpp, Ollama and LM Studio. model: a fine-tuned model's id or name "
    "(an adapter is merged into its base first), a run id, or a base model (its Hub id, e.g. "
    "HuggingFaceTB/SmolLM2-135M-Instruct). quant: f16 (answers as the source), q8_0 (default, near-lossless) or "
    "q4_0 (4-bit, smallest). name: the new model's name (optional). Returns the new model record (kind 'gguf'): "
    "its id, name, folder (the .gguf file and an Ollama Modelfile) and size. Takes from seconds to minutes.")


def type_choices(sizes: dict[str, int] | None) -> list[tuple[str, str]]:
    """Radio choices: each type with its description and, when known, its file's size."""
    from ..gguf_export import DESCRIPTIONS
    from ..models import human_size

    return [(f"{q} · {DESCRIPTIONS[q]}" + (f" · ~{human_size(sizes[q])}" if sizes else ""), q) for q in DESCRIPTIONS]


def _sizes(model_id: str) -> tuple[dict[str, int] | None, str]:
    from .. import gguf_export

    missing = gguf_export.converter_missing()
    if missing:
        return None, f"⚠ {missing} {gguf_export.INSTALL_HINT}."
    try:
        return gguf_export.estimate_sizes(model_id), ""
    except Exception as e:  # shown on the panel; the rest of the detail still fills
        return None, "⚠ " + _friendly(e)


def download_file(model_id: str) -> str:
    """The ``.gguf`` file of a GGUF model, placed where the web server may serve it from."""
    import os
    import shutil

    from .. import models
    from ..gguf_export import gguf_path

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


def fill(d: dict[str, Any] | None) -> list[Any]:
    """The panel for a selected model: a GGUF model offers its file; any other, the types and sizes."""
    if not d:
        return [gr.update(visible=False), gr.update(), gr.update(), "", gr.update(value=None, visible=False)]
    if d.get("kind") == "gguf":
        try:
            path = download_file(d["id"]) if d.get("files_ok") else None
        except Exception as e:
            return [gr.update(visible=True), gr.update(visible=False), gr.update(visible=False), "⚠ " + _friendly(e),
                    gr.update(visible=False)]
        return [gr.update(visible=True, label="GGUF file"), gr.update(visible=False), gr.update(visible=False),
                "Run it with `ollama create my-model -f Modelfile` in its folder, or open the file in LM Studio or "
                f"llama.cpp. Folder: `{html.escape(str(d.get('folder')))}`", gr.update(value=path, visible=bool(path))]
    sizes, problem = _sizes(d["id"])
    return [gr.update(visible=True, label="Export as GGUF (llama.cpp, Ollama, LM Studio)"),
            gr.update(choices=type_choices(sizes), value="q8_0", visible=True), gr.update(visible=True), problem,
            gr.update(value=None, visible=False)]


def on_export(model_id: str | None, quant: str, progress=gr.Progress()):
    """Export, then show the file for download; the caller refreshes its list of models."""
    from .. import gguf_export

    if not model_id:
        return gr.skip(), gr.skip()
    try:
        new = gguf_export.export_gguf(model_id, quant or "q8_0", progress=lambda f, m: progress(f, desc=m))
        path = download_file(new["id"])
    except Exception as e:
        return "⚠ " + _friendly(e), gr.update(visible=False)
    return (f"✓ Exported **{html.escape(new['name'])}**: listed above as a GGUF model, with an Ollama `Modelfile` "
            f"in `{html.escape(new['folder'])}`.", gr.update(value=path, visible=True))


def export_gguf_api(model: str, quant: str = "q8_0", name: str = "") -> dict:
    """Args:
        model: a fine-tuned model's id or name, a run id, or a base model's Hub id
        quant: f16, q8_0 or q4_0
        name: the new model's name (optional)
    """
    from .. import gguf_export

    try:
        return gguf_export.export_gguf((model or "").strip(), quant or "q8_0", name or None)
    except Exception as e:
        raise gr.Error(_friendly(e), print_exception=False) from None


def panel(ctx, selected: gr.State, after: Callable[[], tuple], after_outputs: list[Any]) -> Panel:
    """The accordion (in the model's detail) and its handlers; ``after`` refreshes the caller's list."""
    with gr.Accordion("Export as GGUF (llama.cpp, Ollama, LM Studio)", open=False, visible=False,
                      elem_id="mf-gguf") as acc:
        quant = gr.Radio(type_choices(None), value="q8_0", label="Type (size of the file)", elem_id="mf-gguf-type")
        button = gr.Button("Export GGUF", size="sm", elem_id="mf-gguf-export")
        message = gr.Markdown("", elem_id="mf-gguf-message")
        file = gr.File(label="GGUF file", visible=False, interactive=False, elem_id="mf-gguf-file")
    button.click(on_export, [selected, quant], [message, file], api_visibility="private",
                 show_progress_on=[message]).then(after, None, after_outputs, api_visibility="private",
                                                  show_progress="hidden")
    gr.api(export_gguf_api, api_name="export_gguf", api_description=API_EXPORT_GGUF)
    return Panel([acc, quant, button, message, file], fill)


__all__ = ["API_EXPORT_GGUF", "download_file", "export_gguf_api", "fill", "on_export", "panel", "type_choices"]
