"""Finetune tab: configure a run, start it, watch it live, stop it, and revisit past runs.

The tab is a column of panels, each a function that lays out its widgets and returns a dataclass
of them: 1 · Model (:mod:`.model`), 2 · Data (:mod:`.data`: source, validation, column mapping),
3 · Settings (:mod:`.settings`: strategy, settings, config file), 4 · Live run (:mod:`.live`:
start, stop, the watcher), 5 · History (:mod:`.history`, with Compare and Storage in
:mod:`.compare`). :mod:`.form` reads sections 1 to 3 as one RunConfig. Handlers are module-level
functions returning ``{component: value}``, handed their panel with :func:`~forge.ui.widgets.bind`;
:func:`build` lays out the panels and wires their events. Every action is also an API endpoint
(:mod:`.api`); the logic the widgets and the endpoints share lives in the page's plain-Python modules (:mod:`forge.ui.form`, :mod:`forge.ui.inputs`,
:mod:`forge.ui.run_view`, :mod:`forge.ui.tables`, :mod:`forge.ui.choices`) and in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..choices import hardware, model_choices, provider_choices, strategy_choices
from ..form import PROFILE_FIELDS, form_defaults
from ..tables import devices_markdown, hardware_markdown
from ..widgets import bind, source_visibility
from . import api, compare, data, form, history, live, settings
from .compare import ComparePanel, StoragePanel, compare_panel, storage_panel
from .data import DataPanel, data_panel
from .form import Form
from .history import HistoryPanel, history_panel
from .live import LivePanel, live_panel
from .model import ModelPanel, model_panel
from .settings import SettingsPanel, settings_panel

PRIVATE: dict[str, Any] = {"api_visibility": "private"}
QUIET: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


@dataclass
class Page:
    """The tab's panels, and the page-wide pieces its events reach (``ctx.demo``, ``ctx.run_finished``)."""

    ctx: Any
    form: Form
    live: LivePanel
    history: HistoryPanel
    compare: ComparePanel
    storage: StoragePanel

    @property
    def model(self) -> ModelPanel:
        return self.form.model

    @property
    def data(self) -> DataPanel:
        return self.form.data

    @property
    def settings(self) -> SettingsPanel:
        return self.form.settings


def layout(ctx) -> Page:
    """Lay out the panels: sections 1 to 3 on the left, the live run on the right, history below."""
    defaults = form_defaults()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            model = model_panel()
            data_ = data_panel(defaults["dataset"])
            settings_ = settings_panel(defaults, taken={*model.fields, *data_.fields})
        with gr.Column(scale=6, min_width=420):
            live_ = live_panel()
    with gr.Group(elem_classes="mf-section"):
        history_ = history_panel()
        compare_ = compare_panel()
        storage_ = storage_panel()
    return Page(ctx, Form(model, data_, settings_), live_, history_, compare_, storage_)


def on_page_load(p: Page) -> dict:
    """What the machine has (hardware, devices, strategies it can run), the model choices, the history,
    and the form set to this machine's profile (it starts with the cpu profile's values)."""
    hw = hardware()
    s, fields = p.settings, p.form.fields
    out: dict[Any, Any] = {p.model.hardware: hardware_markdown(hw), s.devices: devices_markdown(hw),
                           fields["strategy"]: gr.update(choices=strategy_choices(hw)),
                           fields["provider"]: gr.update(choices=provider_choices()),
                           p.model.model_name: gr.update(choices=model_choices()),
                           p.history.table: history.history_frame()}
    if hw.profile != "cpu":
        d = form_defaults(hw)
        out.update({fields[f]: d[f] for f in PROFILE_FIELDS})
    return out


# ---- wiring -----------------------------------------------------------------------------------

def then_start_state(p: Page, event) -> None:
    """After ``event``, Start follows both flags as they are then (data ready, settings valid)."""
    event.then(live.start_state, [p.data.ok, p.settings.ok], p.live.start, **QUIET)


def then_validate(p: Page, event) -> None:
    """After ``event``, check the dataset again, then set Start."""
    then_start_state(p, event.then(bind(data.validate, p.data), validation_inputs(p), p.data.validation_outputs,
                                   **PRIVATE))


def validation_inputs(p: Page) -> list:
    f = p.form.fields
    return [*p.data.ref_inputs, f["task"], f["strategy"], f["provider"], f["columns"],
            f["model_name"]]


def wire_form(p: Page) -> None:
    """Each change of a setting: config.yaml, its problem, the memory estimate; then Start."""
    f, s = p.form, p.settings
    triggers = [c.change for n, c in f.fields.items() if n != "task"]
    triggers += [p.data.source.change, p.data.sample.change, p.data.uploaded.change, s.extras.change,
                 p.ctx.demo.load]
    then_start_state(p, gr.on(triggers, bind(form.on_form, f), f.inputs, [s.yaml, s.save, s.error, p.model.memory,
                                                                          s.ok],
                              trigger_mode="always_last", **QUIET))
    s.load.upload(bind(form.on_load_config, f), s.load, f.fill_outputs + [s.error], **PRIVATE)


def wire_data(p: Page) -> None:
    d, fields = p.data, p.form.fields
    d.source.change(source_visibility, d.source, [d.sample, d.upload, d.path], **QUIET)
    gr.on([picker.input for picker in d.pickers], data.on_mapping, [d.columns, *d.pickers], d.columns, **QUIET)
    d.clear_columns.click(bind(data.clear_mapping, d), None, d.columns, **QUIET)
    then_validate(p, d.upload.upload(bind(data.on_upload, d), [d.upload, d.columns], [d.uploaded, d.status, d.columns],
                                     **PRIVATE))
    then_validate(p, d.upload.clear(bind(data.clear_upload, d), None, d.uploaded, **PRIVATE))
    triggers = [d.source.change, d.sample.change, d.task.change, d.path.submit, d.path.blur, d.columns.change,
                fields["model_name"].change, fields["strategy"].change, fields["provider"].change, p.ctx.demo.load]
    then_start_state(p, gr.on(triggers, bind(data.validate, d), validation_inputs(p), d.validation_outputs,
                              trigger_mode="always_last", concurrency_limit=None, **PRIVATE))


def wire_settings(p: Page) -> None:
    s = p.settings
    strategy, provider = s.fields["strategy"], s.fields["provider"]
    strategy.change(settings.strategy_note, strategy, s.strategy_note, **QUIET)
    gr.on([strategy.change, provider.change], settings.provider_note, [strategy, provider], s.provider_note, **QUIET)
    loss_type = s.fields.get("loss_type")
    strategy.change(bind(settings.on_strategy, s), [strategy, loss_type or gr.State(None)],
                    [s.strategy_box, *s.strategy_widgets.values()], **QUIET)
    if s.add_reward is not None:
        table = s.fields["reward_funcs"]
        s.add_reward.click(settings.on_add_reward, [table, s.reward_kind], table, **QUIET)


def wire_live(p: Page) -> None:
    lv, f = p.live, p.form
    p.ctx.demo.load(bind(live.watch, lv, p.history.table, p.ctx.run_finished), None,
                    lv.shown + [p.history.table, p.ctx.run_finished], concurrency_limit=None, **QUIET)
    then_start_state(p, lv.start.click(bind(live.on_start, lv, f), f.inputs, [lv.error, lv.status],
                                       trigger_mode="multiple", **PRIVATE))
    p.ctx.run_finished.change(live.start_state, [p.data.ok, p.settings.ok], lv.start, **QUIET)
    lv.stop.click(live.on_stop, lv.run_id, None, **PRIVATE)


def wire_history(p: Page) -> None:
    h, c, st = p.history, p.compare, p.storage
    h.refresh.click(history.history_frame, None, h.table, **QUIET)
    h.table.select(bind(history.on_select, h), None, h.detail_outputs, **PRIVATE)
    h.resume.click(history.on_resume, [h.selected, h.resume_steps], h.table, **PRIVATE)
    h.delete.click(bind(history.on_delete_run, h), h.selected, [h.table, h.selected], **PRIVATE)
    then_validate(p, h.use_again.click(bind(history.on_use_again, p.form), h.selected, p.form.fill_outputs,
                                       **PRIVATE))
    for event in (c.box.expand, h.refresh.click):
        event(compare.compare_choices, None, c.pick, **QUIET)
    c.button.click(bind(compare.on_compare, c), c.pick, c.outputs, **PRIVATE)
    st.box.expand(bind(compare.show_storage, st), None, st.outputs, **PRIVATE)
    st.button.click(bind(compare.on_delete_stored, st), st.pick, st.outputs, **PRIVATE)


def build(ctx) -> Page:
    """The tab inside its ``gr.Tab``: panels, their events, the API actions."""
    p = layout(ctx)
    loaded = ctx.demo.load(bind(on_page_load, p), None,
                           [p.model.hardware, p.settings.devices, *p.form.fields.values(), p.history.table],
                           concurrency_limit=None, **QUIET)
    wire_form(p)
    wire_data(p)
    wire_settings(p)
    wire_live(p)
    wire_history(p)
    # a page opened while a run trains shows that run's settings, then checks its data
    then_validate(p, loaded.then(bind(form.on_open, p.form), None, p.form.fill_outputs, **QUIET))
    api.publish()
    return p


__all__ = ["Page", "build", "layout", "on_page_load"]
