"""The Models tab's plain data, shared by its widgets and its API: the list of models as table rows,
a model's detail with its run's history, recorded samples and the comparison of evaluations as
tables, and evaluation from the page or the API with its inputs checked."""

from __future__ import annotations

import html
import math
import time
from typing import Any

from ...errors import ForgeError
from ...training.state import short_ref
from ..inputs import AUTO_TASK, check_dataset_ref
from ..run_view import run_detail
from ..tables import comparison_rows, list_evaluations, md_code, md_text, metric_label
from ..widgets import dataset_ref, friendly_error

WHERE = "the Models tab"
HEADERS = ["Name", "Kind", "Base model", "Task", "Strategy", "Created", "Size", "Train loss", "Eval loss", "Files",
           "Id"]
KIND_LABELS = {"adapter": "LoRA adapter", "full": "full model", "merged": "merged model", "gguf": "GGUF file"}


def warning(e: BaseException) -> str:
    """An error as the tab shows it next to the action that failed."""
    return "⚠ " + friendly_error(e, WHERE)


def _num(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else ""


# ---- the list of models ------------------------------------------------------------------------

def list_models() -> list[dict[str, Any]]:
    from ... import models

    return models.list_models()


def table_rows(items: list[dict[str, Any]] | None = None) -> list[list[Any]]:
    from ...models import human_size

    rows = []
    for m in list_models() if items is None else items:
        created = m.get("created")
        rows.append([m["name"], m.get("kind") or "", short_ref(m.get("base_model")), m.get("task") or "",
                     m.get("strategy") or "",
                     time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "",
                     human_size(m.get("size_bytes")), _num(m.get("train_loss")), _num(m.get("eval_loss")),
                     "ok" if m.get("files_ok") else "⚠ missing", m["id"]])
    return rows


def table_frame(rows: list[list[Any]] | None = None):
    import pandas as pd

    return pd.DataFrame(table_rows() if rows is None else rows, columns=HEADERS)


def count_text(items: list[dict[str, Any]]) -> str:
    """The line above the list: how many models, and how many lost their files."""
    if not items:
        return "No fine-tuned models yet: train one on the Finetune tab."
    missing = sum(1 for m in items if not m.get("files_ok"))
    return f"{len(items)} model(s)" + (f" · ⚠ {missing} with missing files" if missing else "")


# ---- one model -----------------------------------------------------------------------------------

def model_detail(model_id: str) -> dict[str, Any]:
    """A model's detail (``forge.models.detail``) plus its run's metric history; ``_view`` is the
    run's folded event log (for the plots), dropped by the API."""
    from ... import models

    d = models.detail(model_id)
    d["history"], d["_view"] = {}, None
    if d.get("run_id"):
        try:
            run = run_detail(d["run_id"])
            d["history"], d["_view"] = run["history"], run["_view"]
        except ForgeError:
            pass  # the run was removed: the model still shows
    return d


def header_markdown(d: dict[str, Any]) -> str:
    from ...models import human_size

    kind = KIND_LABELS.get(d.get("kind"), d.get("kind") or "model")
    lines = [f"### {md_text(d['name'])}",
             f"{kind} · base {md_code(d.get('base_model') or '–')} · task {d.get('task') or '–'} · strategy "
             f"{d.get('strategy') or '–'} · {human_size(d.get('size_bytes'))}",
             f"Id `{d['id']}` · folder {md_code(d.get('folder'))}"]
    if not d.get("files_ok"):
        lines.append("⚠ **The model's files are missing** from its folder: it cannot be loaded, merged or exported. "
                     "Delete it to tidy the list.")
    run = d.get("run") or {}
    if run:
        lines.append(f"Made by run {md_code(run.get('name') or run.get('id'))} ({run.get('status')}) on dataset "
                     f"{md_code(run.get('dataset') or '–')}.")
    lines += [f"ℹ {note}" for note in d.get("notes") or []]
    return "  \n".join(lines)


def samples_frame(samples: Any):
    """Recorded sample outputs as a table: a list of objects (one column per key) or of texts."""
    import pandas as pd

    if isinstance(samples, dict):
        samples = [{"name": k, "output": v} for k, v in samples.items()]
    rows = [s if isinstance(s, dict) else {"output": s} for s in samples or []]
    return pd.DataFrame([{k: (v if isinstance(v, (str, int, float)) or v is None else str(v)) for k, v in r.items()}
                         for r in rows])


def deletion_question(model_id: str) -> str:
    """What deleting a model removes, as the confirmation asks it."""
    from ... import models

    d = models.detail(model_id)
    parts = [f"{what} `{t}` ({models.human_size(models.folder_size(t))})"
             for t, what, owned in models.deletion_targets(model_id) if owned]
    return (f"Delete **{html.escape(d['name'])}**? This removes {', '.join(parts) or 'no files'} and its record. "
            "It cannot be undone.")


def merged_text(new: dict[str, Any]) -> str:
    note = "".join(f"  \nℹ {n}" for n in new.get("notes", [])[1:])
    return (f"✓ Merged: **{html.escape(new['name'])}** saved to `{new['folder']}`. It is listed above; open it in "
            f"the Playground or export it." + note)


# ---- evaluating any model on a dataset -------------------------------------------------------------

def evaluation_dataset(source: str, sample: str | None, uploaded: str | None, path: str | None) -> str:
    """The dataset reference the Evaluate section points at (sandboxed when used)."""
    return dataset_ref(source, sample, uploaded, path)[0]


def comparison_frame(dataset: str | None):
    import pandas as pd

    headers, rows = comparison_rows(list_evaluations(dataset) if dataset else [])
    return pd.DataFrame(rows, columns=headers)


def whole_number(name: str, value: Any, default: int, low: int, high: int) -> int:
    """A count from the page or the API: empty gives the default; anything else must be a whole
    number in range (the page's number boxes carry no limits, so this message names the field)."""
    from ...errors import ConfigError

    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (number.is_integer() and low <= number <= high):
        raise ConfigError(f"{name}: {value!r} is not a whole number from {low} to {high}.",
                          f"Type a whole number from {low} to {high} (default {default}).")
    return int(number)


def run_evaluation(model: str, dataset: str, task: str | None = None, max_samples: int = 20,
                   max_new_tokens: int = 64, progress=None) -> dict[str, Any]:
    """Evaluate from the page or the API: references checked against the sandbox."""
    from ...errors import ConfigError
    from ...evaluation import evaluate_model

    model = (model or "").strip()
    if not model:
        raise ConfigError("No model was chosen.", "Pick a fine-tuned model or a base model to evaluate.")
    max_samples = whole_number("Max samples (max_samples)", max_samples, 20, 1, 1000)
    max_new_tokens = whole_number("Max new tokens (max_new_tokens)", max_new_tokens, 64, 1, 1024)
    dataset = check_dataset_ref(dataset)
    task = None if task in (None, "", AUTO_TASK) else task
    return evaluate_model(model, dataset, task, max_samples=max_samples, max_new_tokens=max_new_tokens,
                          sandbox=True, progress=progress)


def evaluation_text(rec: dict[str, Any]) -> str:
    """One line on a stored evaluation: the model, the dataset and its metrics."""
    m = ", ".join(f"{metric_label(k)} {v:.4f}" for k, v in rec["metrics"].items()
                  if isinstance(v, (int, float)))
    return (f"✓ **{html.escape(rec.get('label') or rec['model'])}** on `{rec['dataset']}` ({rec['task']}, "
            f"{rec['n']} examples, {rec.get('seconds', 0):.1f} s): {m}")
