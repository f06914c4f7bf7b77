"""The Finetune tab's form as a whole: the settings of sections 1 to 3 read into one RunConfig
(its YAML, its problems named with the form's labels, the memory estimate) and filled from a
config (a loaded file, a past run, the run training when the page opens)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ...config import RunConfig
from ...history import reusable_config
from ..choices import hardware
from ..form import config_to_form, config_yaml, memory_estimate, write_config_file
from ..run_view import find_active_run
from ..widgets import dataset_ref, friendly_error
from .data import WHERE, DataPanel
from .model import ModelPanel, memory_update
from .settings import SettingsPanel, rewards_frame

log = logging.getLogger(__name__)


@dataclass
class Form:
    model: ModelPanel
    data: DataPanel
    settings: SettingsPanel

    @property
    def fields(self) -> dict[str, gr.components.Component]:
        """Every run setting on the form, by RunConfig name."""
        return {**self.model.fields, **self.data.fields, **self.settings.fields}

    @property
    def inputs(self) -> set[gr.components.Component]:
        """What a handler reads to make the run's config (it receives them as one dict)."""
        return {*self.fields.values(), *self.data.ref_inputs, self.settings.extras}

    @property
    def fill_outputs(self) -> list[gr.components.Component]:
        """What :func:`fill_form` sets."""
        d, s = self.data, self.settings
        return [*self.fields.values(), d.source, d.sample, d.path, s.extras, s.extras_note]

    def values(self, got: dict) -> dict[str, Any]:
        """The form's values by RunConfig name (``dataset`` included) from a handler's input dict."""
        values = {**(got[self.settings.extras] or {}), **{n: got[c] for n, c in self.fields.items()}}
        values["dataset"] = dataset_ref(*(got[c] for c in self.data.ref_inputs))[0]
        return values

    def dataset_name(self, got: dict) -> str | None:
        """The uploaded file's own name (None for a sample, a path or a Hub id)."""
        return dataset_ref(*(got[c] for c in self.data.ref_inputs))[1]

    def name_fields(self, text: str) -> str:
        """A config message names fields as the config does; add the form's label for each."""
        labels = {k: c.label for k, c in self.fields.items() if getattr(c, "label", None) and c.label != k}
        return re.sub(r"^(\w+):", lambda m: f"{labels[m[1]]} ({m[1]}):" if m[1] in labels else m[0], text,
                      flags=re.M)


def on_form(f: Form, got: dict) -> dict:
    """The settings as config.yaml, a problem that makes no valid config, and the memory estimate."""
    s = f.settings
    values = f.values(got)
    text, err = config_yaml(values)
    if err:
        err = f.name_fields(err)
        memory, warn = "No estimate until the settings are fixed.", True
    else:
        try:
            memory, warn = memory_estimate(values)
        except Exception as e:
            memory, warn = f"No estimate: {friendly_error(e, WHERE)}", False
    return {s.yaml: text,
            s.save: gr.update(value=str(write_config_file(text)) if text else None, interactive=bool(text)),
            s.error: gr.update(value=err or "", visible=bool(err)),
            f.model.memory: memory_update(memory, warn),
            s.ok: not err}


def fill_form(f: Form, config: RunConfig | dict) -> dict:
    """The form set to ``config``; settings it holds that the form does not show are kept aside and named."""
    from ...config import parse_config

    cfg = parse_config(config)
    values = config_to_form(cfg, hardware())
    values["reward_funcs"] = rewards_frame(values.get("reward_funcs"))
    values["columns"] = dict(cfg.columns)
    fields = f.fields
    out: dict[Any, Any] = {c: values[n] for n, c in fields.items()}
    ds = values.get("dataset") or ""
    if ds.startswith("sample:"):
        out.update({f.data.source: "Sample", f.data.sample: ds})
    else:
        out.update({f.data.source: "Path or Hub id", f.data.path: ds})
    extra = {k: v for k, v in cfg.to_dict().items() if k in cfg.user_fields() and k not in fields and k != "dataset"}
    note = ("Also set by this config (not on the form, kept as they are): "
            + ", ".join(f"`{k}: {v}`" for k, v in extra.items())) if extra else ""
    out.update({f.settings.extras: extra, f.settings.extras_note: gr.update(value=note, visible=bool(extra))})
    return out


def on_load_config(f: Form, file: str | None) -> dict:
    """The form set to a config file (YAML or JSON); a problem is named in view."""
    from ...config import load_config

    try:
        out = fill_form(f, load_config(file))
    except Exception as e:
        # name the file as the user knows it, not by the server's temporary upload path
        text = friendly_error(e, WHERE)
        text = text.replace(str(file), Path(str(file)).name) if file else text
        return {f.settings.error: gr.update(value=f.name_fields(text), visible=True)}
    return {**out, f.settings.error: gr.update(value="", visible=False)}


def on_open(f: Form) -> dict:
    """A page opened (or reloaded) while a run trains shows that run's settings, not the defaults,
    so pressing Start does not queue a different run by mistake."""
    rid = find_active_run()
    if rid:
        try:
            return fill_form(f, reusable_config(rid))
        except Exception as e:  # the defaults stay; the live run still shows
            log.warning("could not show the live run's settings: %s", e)
    return gr.skip()
