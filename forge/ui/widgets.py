"""Widget logic shared by several tabs: the dataset source picker (a sample, an uploaded
file, or a path / Hub id) used by the Finetune tab and the Models tab's Evaluate section."""

from __future__ import annotations

import gradio as gr

SOURCES = ("Sample", "Upload", "Path or Hub id")


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
