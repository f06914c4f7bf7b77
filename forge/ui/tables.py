"""Page-side formatting: run history, evaluations, datasets and the machine as table rows and
Markdown (user text escaped). The data comes from the engine; nothing here decides anything.
"""

from __future__ import annotations

import html
import math
import os
import re
import time
from typing import Any

from ..history import history_table
from ..training.state import clock, short_ref


def md_text(v: Any) -> str:
    """A user's text (a run or model name) shown as text inside Markdown: no markup, no HTML."""
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", html.escape(str(v), quote=False))


def md_code(v: Any) -> str:
    """A user's text as an inline code span, whatever backticks it holds."""
    text = str(v).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_cell(v: Any) -> str:
    return html.escape(str(v)).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _num(v: Any, fmt: str = "{:.4f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and not math.isnan(v) and not math.isinf(v) else ""


METRIC_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "exact_match": "Exact match",
                 "f1": "F1", "perplexity": "Perplexity", "loss": "Loss"}


LOWER_IS_BETTER = ("perplexity", "loss")


METRICS_HEADERS = ["Metric", "Base model", "Fine-tuned", "Change"]


BEFORE_AFTER_HEADERS = ["Prompt", "Reference", "Base model", "Fine-tuned"]


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


def evaluation_metric_rows(evaluation: dict[str, Any] | None) -> list[list[str]]:
    """The task metrics of the base model and the fine-tuned model side by side, with the change
    (marked ✓ when it is an improvement: up for scores, down for perplexity and loss)."""
    ev = evaluation or {}
    tuned, base = ev.get("metrics") or {}, ev.get("base_metrics") or {}
    rows = []
    for k in list(tuned) + [k for k in base if k not in tuned]:
        a, b = tuned.get(k), base.get(k)
        change = ""
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isfinite(a) and math.isfinite(b):
            d = a - b
            better = d < 0 if k in LOWER_IS_BETTER else d > 0
            change = f"{d:+.4f}" + (" ✓" if better else "")
        rows.append([metric_label(k), _num(b), _num(a), change])
    return rows


def before_after_rows(evaluation: dict[str, Any] | None, limit: int | None = None,
                      width: int | None = None) -> list[list[str]]:
    """The held-out prompts with the reference, the base model's answer and the fine-tuned
    model's answer (texts cut to ``width`` characters when given)."""
    def cut(v: Any) -> str:
        t = "" if v is None else str(v)
        return t if width is None or len(t) <= width else t[: width - 1] + "…"

    samples = (evaluation or {}).get("samples") or []
    return [[cut(s.get("prompt")), cut(s.get("reference")),
             cut(s.get("before")) if s.get("before") is not None else "(not measured)", cut(s.get("after"))]
            for s in samples[:limit]]


def evaluation_markdown(evaluation: dict[str, Any] | None, samples: int = 3, width: int = 300) -> str:
    """The end-of-run evaluation as the Finetune tab shows it: the metrics of the base and of the
    fine-tuned model, and the first few before/after answers."""
    ev = evaluation or {}
    if not ev:
        return ""
    n, secs = ev.get("n"), ev.get("seconds")
    parts = [f"#### Evaluation on {n} held-out example(s)" + (f" ({secs:.1f} s)" if isinstance(secs, (int, float)) else "")]
    rows = evaluation_metric_rows(ev)
    if rows:
        parts.append(_md_table(METRICS_HEADERS, rows))
    ba = before_after_rows(ev, limit=samples, width=width)
    if ba:
        parts.append(f"**Before / after** (the first {len(ba)}; all of them on the Models tab)")
        parts.append(_md_table(BEFORE_AFTER_HEADERS, ba))
    return "\n\n".join(parts)


def comparison_rows(evaluations: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Stored evaluations (``forge.evaluation.evaluate_model`` records) as one table: model, kind,
    examples, then one column per metric any of them has, then when and the id."""
    keys: list[str] = []
    for e in evaluations:
        for k in (e.get("metrics") or {}):
            if k not in keys:
                keys.append(k)
    headers = ["Model", "Kind", "Task", "Examples"] + [metric_label(k) for k in keys] + ["When", "Id"]
    rows = []
    for e in evaluations:
        m = e.get("metrics") or {}
        when = e.get("created")
        rows.append([e.get("label") or short_ref(e.get("model")), e.get("kind") or "", e.get("task") or "",
                     e.get("n") or 0] + [_num(m.get(k)) for k in keys]
                    + [_when(when), e.get("id") or ""])
    return headers, rows


def list_evaluations(dataset: str | None = None) -> list[dict[str, Any]]:
    from ..runs import get_store

    return get_store().list_evaluations(dataset or None)


def tensorboard_markdown(folder: str | None) -> str:
    if folder:
        return f"TensorBoard logs: `{folder}` (view them with `tensorboard --logdir {folder}`)"
    if os.environ.get("MODELFORGE_DISABLE_TENSORBOARD"):
        return "TensorBoard logs: disabled (MODELFORGE_DISABLE_TENSORBOARD is set)"
    return "TensorBoard logs: none written for this run"


HISTORY_HEADERS = ["Name", "Model", "Task", "Strategy", "Status", "Duration", "Final loss", "Eval loss", "Started", "Id"]


def history_rows(runs: list[dict[str, Any]] | None = None) -> list[list[Any]]:
    """The history table's rows (``HISTORY_HEADERS``), from the engine's history as data."""
    return [[r["name"], r["model"], r["task"], r["strategy"], r["status"],
             clock(r["duration_s"]) if r["duration_s"] is not None else "", _num(r["final_loss"]), _num(r["eval_loss"]),
             _when(r["started"]), r["id"]] for r in history_table(runs)]


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""


def dataset_summary(result: dict[str, Any]) -> str:
    if result.get("ok"):
        from ..data import TASK_SPECS

        spec = TASK_SPECS.get(result["task"])
        text = f"✓ **{result['rows']} rows** ready · task **{result['task']}**" + (f" ({spec.label})" if spec else "")
        notes = [n for n in result.get("notices", [])]
        if result.get("templated"):
            notes.append("The preview shows the rows as the model's chat template renders them.")
        return text + ("  \n" + "  \n".join(html.escape(n) for n in notes) if notes else "")
    n = len(result.get("problems") or [])
    head = "✗ **This dataset cannot be used yet**" + (f": {n} problem(s) listed below" if n else "")
    return head


def problem_rows(result: dict[str, Any]) -> list[list[Any]]:
    return [[p.get("line") or "", p.get("message", ""), p.get("excerpt", "")] for p in result.get("problems") or []]


def preview_rows(result: dict[str, Any]) -> list[list[str]]:
    return [[r["prompt"], r["answer"]] for r in result.get("preview") or []]


def hardware_markdown(hw=None) -> str:
    if hw is None:
        from ..hardware import detect

        hw = detect()
    lines = [f"**Device** {hw.device_text(cpu_name=True)}", f"**Memory** {hw.accelerator_memory_gb:.0f} GiB"
             + (f" GPU · {hw.ram_gb:.0f} GiB RAM" if hw.gpus else " RAM"),
             f"**Profile** `{hw.profile}`" + (" · bf16" if hw.bf16 else "")
             + (" · short runs and small batches by default" if hw.profile == "cpu" else "")]
    return "  \n".join(lines)


def devices_markdown(hw=None) -> str:
    """What the Devices settings can use on this machine."""
    if hw is None:
        from ..hardware import detect

        hw = detect()
    if hw.gpus:
        return (f"This machine has **{len(hw.gpus)} GPU(s)**: a run uses one process per GPU unless you set "
                "Processes. With several, **ddp** keeps a copy of the model on each GPU; **fsdp** and "
                "**deepspeed** shard it. Runs start under `accelerate launch`; on several machines, use "
                "`python -m forge train --num-machines` (see the README).")
    return (f"This machine has **no GPU** ({hw.cpu_count} CPU cores): a run uses 1 process. Several CPU "
            "processes (ddp) work, mostly to try a multi-process set-up before a GPU machine.")
