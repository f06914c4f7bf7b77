"""Run history and run detail: what the page, the API and the CLI show of past and present runs.

Everything here is plain data (JSON-ready dicts); a run's metric history comes from its event
log through ``RunState``, the one reader of it.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path
from typing import Any

from .errors import ForgeError
from .training.state import RunState, short_ref

COMPARED_CURVES = ("loss", "eval_loss", "learning_rate")
MAX_COMPARED = 8
RESUMABLE = ("stopped", "failed", "interrupted", "completed")


def _get_run(run_id: str, hint: str = "Pick a run from the list of runs (/runs).") -> dict[str, Any]:
    from .runs import get_store

    rec = get_store().get_run((run_id or "").strip())
    if rec is None:
        raise ForgeError(f"There is no run '{run_id}'.", hint)
    return rec


def run_folder(rec: dict[str, Any]) -> Path:
    from .training.job import run_dir

    return Path(rec.get("run_dir") or run_dir(rec["id"]))


def run_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A run record reduced to what a list of runs shows (JSON-ready)."""
    started, finished = rec.get("started"), rec.get("finished")
    end = finished or (time.time() if rec.get("status") == "running" else None)
    duration = (end - started) if started and end else None
    m = rec.get("metrics") or {}
    return {"id": rec["id"], "name": rec.get("name") or rec["id"], "model": rec.get("base_model"),
            "task": rec.get("task"), "strategy": rec.get("strategy"), "status": rec.get("status"),
            "created": rec.get("created"), "started": started, "finished": finished,
            "duration_s": round(duration, 1) if duration is not None else None,
            "final_loss": m.get("loss", m.get("train_loss")), "eval_loss": m.get("eval_loss"),
            "dataset": rec.get("dataset"), "output_dir": rec.get("output_dir"), "error": rec.get("error")}


def list_runs() -> list[dict[str, Any]]:
    """Every run, newest first, as ``run_summary`` shows it."""
    from .runs import get_store

    return [run_summary(r) for r in get_store().list_runs()]


def tensorboard_dir(rec: dict[str, Any]) -> str | None:
    """Where a run's TensorBoard logs are (None when it wrote none)."""
    d = run_folder(rec) / "checkpoints" / "runs"
    return str(d) if d.is_dir() else None


def run_detail(run_id: str, state_type: type[RunState] = RunState) -> dict[str, Any]:
    """One run: its record, its config, final metrics and metric history (from its event log).
    The folded state is under ``"_state"`` (an instance of ``state_type``; not JSON)."""
    from .training import checkpoints, launch

    rec = _get_run(run_id)
    state = state_type.load(rec)
    config_path = run_folder(rec) / "config.yaml"
    return {**run_summary(rec), "config": rec.get("config") or {},
            "checkpoints": checkpoints.describe(run_folder(rec) / "checkpoints"),
            "launch": rec.get("launch") or {}, "devices": launch.describe(rec.get("launch")),
            "resumable": rec.get("status") in RESUMABLE, "config_set": rec.get("config_set") or [],
            "resolved_config_yaml": config_path.read_text(encoding="utf-8") if config_path.is_file() else None,
            "metrics": rec.get("metrics") or {}, "history": state.history(), "provider": rec.get("provider"),
            "evaluation": rec.get("evaluation") or state.evaluation, "tensorboard_dir": tensorboard_dir(rec),
            "log_tail": list(state.log)[-50:], "_state": state}


def public(detail: dict[str, Any]) -> dict[str, Any]:
    """A run detail without its private (not JSON) entries."""
    return {k: v for k, v in detail.items() if not k.startswith("_")}


def _run_ids(run_ids: list[str] | str) -> list[str]:
    ids = [i.strip() for i in (run_ids.replace(",", " ").split() if isinstance(run_ids, str) else run_ids or [])
           if i and i.strip()]
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2:
        raise ForgeError("Pick at least two runs to compare.", "Select them in the history (or give their ids).")
    if len(ids) > MAX_COMPARED:
        raise ForgeError(f"{len(ids)} runs were picked; at most {MAX_COMPARED} are compared at once.",
                         "Pick fewer runs.")
    return ids


def compare_runs(run_ids: list[str] | str) -> dict[str, Any]:
    """Two or more runs side by side: their loss, eval loss and learning-rate curves (one series
    per run, on the same steps), their final metrics, and the settings in which they differ."""
    details = [run_detail(i) for i in _run_ids(run_ids)]
    names = _distinct_names(details)
    curves: dict[str, list[dict[str, Any]]] = {k: [] for k in COMPARED_CURVES}
    for d, name in zip(details, names):
        for key in COMPARED_CURVES:
            curves[key] += [{"run": name, "step": step, "value": value} for step, value in d["history"].get(key, [])]
    metric_keys = sorted({k for d in details for k, v in d["metrics"].items()
                          if isinstance(v, (int, float)) and not isinstance(v, bool)})
    metrics = {k: {name: d["metrics"].get(k) for d, name in zip(details, names)} for k in metric_keys}
    return {"runs": [{k: d[k] for k in ("id", "name", "status", "strategy", "model", "dataset") if k in d}
                     for d in details], "names": names, "curves": curves, "metrics": metrics,
            "settings": _differing_settings([d.get("config") or {} for d in details], names)}


def _differing_settings(configs: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    keys = sorted({k for c in configs for k in c})
    return {k: {name: c.get(k) for c, name in zip(configs, names)} for k in keys
            if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1}


def _distinct_names(details: list[dict[str, Any]]) -> list[str]:
    """Each run's name, with its id added where two runs share a name (a plot needs one per series)."""
    counts = collections.Counter(d["name"] for d in details)
    return [d["name"] if counts[d["name"]] == 1 else f"{d['name']} ({d['id']})" for d in details]


def reusable_config(run_id: str) -> dict[str, Any]:
    """A past run's config as the user set it (profile-filled values left to the profile)."""
    rec = _get_run(run_id, "Pick a run from the history.")
    cfg = dict(rec.get("config") or {})
    keep = set(rec.get("config_set") or cfg)
    return {k: v for k, v in cfg.items() if k in keep}


def history_table(runs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The history as rows of data (one per run, newest first): name, model and dataset as short
    names, task, strategy, status, duration in seconds, final and eval loss, start time, id."""
    rows = []
    for s in runs if runs is not None else list_runs():
        rows.append({"name": s["name"], "model": short_ref(s["model"]), "task": s["task"] or "",
                     "strategy": s["strategy"] or "", "status": s["status"] or "", "duration_s": s["duration_s"],
                     "final_loss": s["final_loss"], "eval_loss": s["eval_loss"],
                     "started": s.get("started") or s.get("created"), "id": s["id"]})
    return rows
