"""The Models tab's list of models and the selected model's detail view with its actions: rename,
open in the Playground, merge into the base, export as .zip, delete with confirmation.

Each handler is a module-level function taking the :class:`ModelsPage` (the tab's widgets) first
and returning ``{component: value}``; ``wire`` binds them to the widgets' events.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..widgets import bind, friendly_error
from .data import (
    WHERE,
    count_text,
    deletion_question,
    list_models,
    merged_text,
    model_detail,
    table_frame,
    table_rows,
    warning,
)
from .detail import DETAIL_PANELS, Panel, fill_all, header_panel
from .gguf import gguf_panel


@dataclass
class ModelList:
    """The table of models and the count above it."""

    refresh_button: gr.Button
    count: gr.Markdown
    table: gr.Dataframe

    @property
    def outputs(self) -> list[Any]:
        return [self.table, self.count]


@dataclass
class Actions:
    """What can be done with the selected model, and where the answers show."""

    name: gr.Textbox
    rename: gr.Button
    open: gr.Button
    merge: gr.Button
    export: gr.Button
    delete: gr.Button
    confirm: gr.Group
    question: gr.Markdown
    confirm_yes: gr.Button
    confirm_no: gr.Button
    message: gr.Markdown
    download: gr.File


@dataclass
class ModelsPage:
    """The tab's widgets: the list, the selected model's id, its detail column, actions and panels."""

    listing: ModelList
    selected: gr.State
    column: gr.Column
    actions: Actions
    panels: list[Panel] = field(default_factory=list)

    @property
    def detail_outputs(self) -> list[Any]:
        a = self.actions
        return [self.selected, self.column, a.name, a.confirm, a.message, a.download] + \
            [c for p in self.panels for c in p.outputs]


# ---- layout ------------------------------------------------------------------------------------

def list_panel() -> ModelList:
    with gr.Row():
        refresh_button = gr.Button("Refresh", size="sm", scale=0, min_width=100, elem_id="mf-models-refresh")
        count = gr.Markdown("", elem_id="mf-models-count")
    table = gr.Dataframe(table_frame([]), interactive=False, max_height=360, wrap=True, elem_id="mf-models",
                         label="Fine-tuned models (select one)")
    return ModelList(refresh_button, count, table)


def actions_panel() -> Actions:
    with gr.Row(equal_height=True):
        name = gr.Textbox(label="Name", scale=3, elem_id="mf-model-name")
        rename = gr.Button("Rename", size="sm", scale=0, min_width=90, elem_id="mf-model-rename")
    with gr.Row():
        open_ = gr.Button("Open in Playground", variant="primary", size="sm", elem_id="mf-model-open")
        merge = gr.Button("Merge into base", size="sm", elem_id="mf-model-merge")
        export = gr.Button("Export .zip", size="sm", elem_id="mf-model-export")
        delete = gr.Button("Delete…", variant="stop", size="sm", elem_id="mf-model-delete")
    with gr.Group(visible=False, elem_id="mf-model-confirm") as confirm:
        question = gr.Markdown("")
        with gr.Row():
            yes = gr.Button("Yes, delete it", variant="stop", size="sm", elem_id="mf-model-confirm-yes")
            no = gr.Button("Cancel", size="sm", elem_id="mf-model-confirm-no")
    message = gr.Markdown("", elem_id="mf-model-action")
    download = gr.File(label="Download", visible=False, interactive=False, elem_id="mf-model-download")
    return Actions(name, rename, open_, merge, export, delete, confirm, question, yes, no, message, download)


def models_page(ctx) -> ModelsPage:
    """Lay out the list and the detail column (hidden until a model is selected)."""
    listing = list_panel()
    selected = gr.State(None)
    with gr.Column(visible=False, elem_id="mf-model-detail") as column:
        header = header_panel(ctx, selected)
        actions = actions_panel()
        page = ModelsPage(listing, selected, column, actions, [header] + [make(ctx, selected) for make in DETAIL_PANELS])
        page.panels.append(gguf_panel(ctx, selected, bind(refresh, page), listing.outputs))
    return page


# ---- handlers ----------------------------------------------------------------------------------

def refresh(page: ModelsPage) -> dict[Any, Any]:
    """The list of models and the count above it, as the store has them now."""
    items = list_models()
    return {page.listing.table: table_frame(table_rows(items)), page.listing.count: count_text(items)}


def show(page: ModelsPage, model_id: str | None, message: str = "") -> dict[Any, Any]:
    """The detail view of a model (``None``: hide it)."""
    a = page.actions
    if not model_id:  # hide the detail, keeping it on the page: a plot taken off the page while its
        # resize handler runs raises in the browser; the panels are refilled at the next selection
        return {page.selected: None, page.column: gr.update(visible="hidden"), a.name: "",
                a.confirm: gr.update(visible=False), a.message: "", a.download: gr.update(visible=False)}
    try:
        d = model_detail(model_id)
    except Exception as e:
        return {page.selected: None, page.column: gr.update(visible=True), a.name: "",
                a.confirm: gr.update(visible=False), a.message: friendly_error(e, WHERE),
                a.download: gr.update(visible=False), **fill_all(page.panels, None)}
    return {page.selected: model_id, page.column: gr.update(visible=True), a.name: d["name"],
            a.confirm: gr.update(visible=False), a.message: message, a.download: gr.update(value=None, visible=False),
            **fill_all(page.panels, d)}


def select(page: ModelsPage, evt: gr.SelectData) -> dict[Any, Any]:
    """A row of the list clicked: show that model (its id is the row's last cell)."""
    row = evt.row_value or []
    return show(page, row[-1] if row else None)


def rename(page: ModelsPage, model_id: str | None, name: str) -> dict[Any, Any]:
    from ... import models

    if not model_id:
        return gr.skip()
    try:
        s = models.rename(model_id, name)
    except Exception as e:
        return {page.actions.message: warning(e)}
    return {**refresh(page), **show(page, model_id, f"✓ Renamed to **{html.escape(s['name'])}**.")}


def ask_delete(page: ModelsPage, model_id: str | None) -> dict[Any, Any]:
    """Ask before deleting: what the deletion removes."""
    a = page.actions
    if not model_id:
        return gr.skip()
    try:
        question = deletion_question(model_id)
    except Exception as e:
        return {a.confirm: gr.update(visible=False), a.question: friendly_error(e, WHERE)}
    return {a.confirm: gr.update(visible=True), a.question: question}


def cancel_delete(page: ModelsPage) -> dict[Any, Any]:
    return {page.actions.confirm: gr.update(visible=False)}


def delete(page: ModelsPage, model_id: str | None) -> dict[Any, Any]:
    from ... import models

    if not model_id:
        return gr.skip()
    try:
        r = models.delete(model_id)
    except Exception as e:
        return {page.actions.confirm: gr.update(visible=False), page.actions.message: warning(e)}
    gr.Info(f"Deleted {r['name']}: {models.human_size(r['freed_bytes'])} freed.")
    return {**refresh(page), **show(page, None)}


def merge_into_base(page: ModelsPage, model_id: str | None, progress=gr.Progress()) -> dict[Any, Any]:
    """Merge an adapter into its base as a new model (long: progress, and the page stays usable)."""
    from ... import export

    if not model_id:
        return gr.skip()
    try:
        new = export.merge(model_id, progress=lambda f, m: progress(f, desc=m))
    except Exception as e:
        return {page.actions.message: warning(e)}
    return {**refresh(page), page.actions.message: merged_text(new)}


def export_zip(page: ModelsPage, model_id: str | None, progress=gr.Progress()) -> dict[Any, Any]:
    """Zip the model's folder and offer it for download."""
    from ... import export

    a = page.actions
    if not model_id:
        return gr.skip()
    try:
        path = export.archive(model_id, progress=lambda f, m: progress(f, desc=m))
    except Exception as e:
        return {a.download: gr.update(visible=False), a.message: warning(e)}
    return {a.download: gr.update(value=str(path), visible=True), a.message: f"✓ Ready to download: `{path.name}`."}


def open_in_playground(ctx, model_id: str | None) -> dict[Any, Any]:
    """Switch to the Playground with the model picked there."""
    from ..playground import model_choices

    if not model_id:
        return gr.skip()
    return {ctx.tabs: gr.Tabs(selected="playground"),
            ctx.playground_model: gr.update(choices=model_choices(), value=model_id)}


# ---- events ------------------------------------------------------------------------------------

def wire(ctx, page: ModelsPage) -> None:
    a, listing, detail = page.actions, page.listing.outputs, page.detail_outputs
    for trigger in (page.listing.refresh_button.click, ctx.demo.load, ctx.run_finished.change):
        trigger(bind(refresh, page), None, listing, api_visibility="private", show_progress="hidden")
    page.listing.table.select(bind(select, page), None, detail, api_visibility="private")
    for trigger in (a.rename.click, a.name.submit):
        trigger(bind(rename, page), [page.selected, a.name], listing + detail, api_visibility="private")
    a.delete.click(bind(ask_delete, page), page.selected, [a.confirm, a.question], api_visibility="private")
    a.confirm_no.click(bind(cancel_delete, page), None, a.confirm, api_visibility="private")
    a.confirm_yes.click(bind(delete, page), page.selected, listing + detail, api_visibility="private")
    a.merge.click(bind(merge_into_base, page), page.selected, listing + [a.message], api_visibility="private",
                  show_progress_on=[a.message])
    a.export.click(bind(export_zip, page), page.selected, [a.download, a.message], api_visibility="private",
                   show_progress_on=[a.message])
    ctx.after_build.append(lambda ctx: wire_open(ctx, page))


def wire_open(ctx, page: ModelsPage) -> None:
    """Open in the Playground: wired once the Playground tab made its model picker."""
    if ctx.playground_model is None:
        return
    page.actions.open.click(bind(open_in_playground, ctx), page.selected, [ctx.tabs, ctx.playground_model],
                            api_visibility="private")


__all__ = ["Actions", "ModelList", "ModelsPage", "ask_delete", "cancel_delete", "delete", "export_zip",
           "merge_into_base", "models_page", "open_in_playground", "refresh", "rename", "select", "show", "wire"]
