"""Evaluation: task metrics from generated answers, before/after samples, and evaluating any
model on any dataset of its task.

* ``summarization``: ROUGE-1/2/L (``rouge-score``).
* ``extractive-qa``: exact match and token F1 with SQuAD normalisation, best over every reference.
* ``text-generation`` and ``chat``: perplexity (from the trainer's eval loss) and ROUGE-L against
  the reference answer.
* preference strategies: the trainer's own reward accuracy and margin on the held-out pairs.

Generation is bounded by ``eval_samples`` rows, so evaluation never dominates training time.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from . import metrics as M
from .data.tasks import prompt_messages, reference_answers

GENERATIVE_TASKS = ("text-generation", "chat", "summarization", "extractive-qa")
Progress = Callable[[float, str], None]


def task_metrics(task: str, predictions: list[str], rows: list[dict]) -> dict[str, float]:
    refs = [reference_answers(r, task) for r in rows]
    if task == "summarization":
        return M.rouge(predictions, refs)
    if task == "extractive-qa":
        return M.squad(predictions, refs)
    if task in ("text-generation", "chat"):
        return {"rougeL": M.rouge(predictions, refs)["rougeL"]}
    return {}


def generate(model, tokenizer, rows: list[dict], task: str, *, max_new_tokens: int = 64, batch_size: int = 8,
             progress: Progress | None = None) -> list[str]:
    """Greedy answers to the rows' prompts, through the tokenizer's chat template (as in training), by the
    inference's one generation path (batched, padded on the left by the tokenizer)."""
    from .inference.generation import generate as answers
    from .inference.sampling import GenerationSettings

    prompts = [prompt_messages(r, task) for r in rows]
    return answers(model, tokenizer, prompts, GenerationSettings.greedy(max_new_tokens), batch_size=batch_size,
                   progress=progress)


def with_perplexity(result: dict[str, float], eval_loss: float | None) -> dict[str, float]:
    if eval_loss is not None:
        result["perplexity"] = M.perplexity(eval_loss)
    return result


def end_of_run(trainer, ctx, base_loader: Callable[[], Any] | None = None, *,
               stop: Callable[[], bool] | None = None, over_budget: Callable[[float], bool] | None = None,
               eval_cost: float = 0.0,
               progress: Callable[[int, int, float | None], None] | None = None) -> dict[str, Any]:
    """Task metrics of the fine-tuned model and of its base on the first ``eval_samples`` held-out
    rows, and the before/after answers. With LoRA the base is the same weights with the adapter
    switched off; a fully fine-tuned model needs ``base_loader`` to load the base.

    The rows are answered a few at a time (one on a CPU), each by both models; before each next
    group it ends early when ``stop()`` (Stop was pressed) or ``over_budget(seconds)`` (the next
    group, timed as the ones before, would take evaluation over its share of the run) says so,
    after at least one; the base model's evaluation loss (``eval_cost`` seconds, as long as the
    final one took) is left out the same way. ``progress(done, total, eta)``."""
    cfg = ctx.config
    rows = ctx.eval_rows[: cfg.eval_samples]
    if ctx.task not in GENERATIVE_TASKS or not rows:
        return {}
    model, tok = trainer.model, ctx.tokenizer
    t0 = time.time()
    group = 1 if next(model.parameters()).device.type == "cpu" else 8
    def answer(m, part):
        return generate(m, tok, part, ctx.task, max_new_tokens=cfg.eval_max_new_tokens)
    after: list[str] = []
    before: list[str] | None = [] if hasattr(model, "disable_adapter") or base_loader is not None else None
    base = None
    for i in range(0, len(rows), group):
        if i and ((stop and stop()) or (over_budget and over_budget((time.time() - t0) / i * group))):
            break
        if progress:
            pace = (time.time() - t0) / i if i else None
            progress(i, len(rows), pace * (len(rows) - i) if pace else None)
        part = rows[i:i + group]
        after += answer(model, part)
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                before += answer(model, part)
        elif before is not None:
            base = base if base is not None else base_loader()
            before += answer(base, part)
    del base
    rows = rows[: len(after)]
    if progress:
        progress(len(rows), len(rows), None)
    losses = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    tuned = with_perplexity(task_metrics(ctx.task, after, rows), losses[-1] if losses else None)
    base_m = task_metrics(ctx.task, before, rows) if before is not None else {}
    if (hasattr(model, "disable_adapter") and losses and not (stop and stop())
            and not (over_budget and over_budget(eval_cost))):
        with model.disable_adapter():  # the base's loss on the same held-out rows, by the same trainer
            base_loss = trainer.evaluate(metric_key_prefix="base_eval").get("base_eval_loss")
        with_perplexity(base_m, base_loss)
    samples = [{"prompt": prompt_messages(r, ctx.task)[-1]["content"], "reference": reference_answers(r, ctx.task)[0],
                "before": before[i] if before is not None else None, "after": after[i]} for i, r in enumerate(rows)]
    return {"metrics": tuned, "base_metrics": base_m, "samples": samples, "n": len(rows),
            "seconds": round(time.time() - t0, 2)}


def flat(evaluation: dict[str, Any]) -> dict[str, float]:
    """Evaluation metrics as flat run metrics: ``eval_rouge1``, ``base_eval_rouge1``, ..."""
    out = {f"eval_{k}": v for k, v in evaluation.get("metrics", {}).items() if isinstance(v, (int, float))}
    out.update({f"base_eval_{k}": v for k, v in evaluation.get("base_metrics", {}).items() if isinstance(v, (int, float))})
    return out


# ---- evaluating a saved model on any dataset ----------------------------------------------------

def eval_loss(model, tokenizer, rows: list[dict], task: str, max_length: int = 512) -> float:
    """Mean loss on the answers, computed by TRL's SFTTrainer exactly as during training."""
    import tempfile

    from trl import SFTConfig, SFTTrainer

    from .data import sft_dataset
    from .hardware import detect

    ds = sft_dataset(rows, task)
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(output_dir=out, per_device_eval_batch_size=4, max_length=max_length, report_to=[],
                         use_cpu=detect().device == "cpu", bf16=False, disable_tqdm=True, completion_only_loss=True)
        # TRL requires a train_dataset even to evaluate; nothing is trained
        trainer = SFTTrainer(model=model, args=args, train_dataset=ds, eval_dataset=ds, processing_class=tokenizer)
        return float(trainer.evaluate()["eval_loss"])


def evaluate_model(reference: str, dataset: str, task: str | None = None, *, max_samples: int = 50,
                   max_new_tokens: int = 64, sandbox: bool = False, progress: Progress | None = None,
                   model_id: str | None = None, store=None) -> dict[str, Any]:
    """Task metrics of any model on any dataset of its task; the result is stored and returned."""
    from . import data
    from .errors import DataError
    from .runs import get_store

    progress = progress or (lambda f, m: None)
    t0 = time.time()
    max_samples = max(1, int(max_samples or 1))
    progress(0.0, "reading the dataset")
    ds = data.load(dataset, task, sandbox=sandbox)
    if ds.task not in GENERATIVE_TASKS:
        raise DataError(f"Evaluate works on {', '.join(GENERATIVE_TASKS)} datasets; this one is {ds.task}.",
                        "Preference models are evaluated at the end of their run (reward accuracy and margin).")
    rows = ds.rows[:max_samples]
    from .inference import load_model
    from .refs import resolve_spec

    spec = resolve_spec(reference, sandbox=sandbox)
    progress(0.05, f"loading {spec.label}")
    loaded = load_model(spec)
    model, tok = loaded.model, loaded.tokenizer
    progress(0.15, "computing the loss")
    loss = eval_loss(model, tok, rows, ds.task)
    preds = generate(model, tok, rows, ds.task, max_new_tokens=max_new_tokens,
                     progress=lambda f, m: progress(0.2 + 0.75 * f, m))
    result = with_perplexity(task_metrics(ds.task, preds, rows), loss)
    result["loss"] = loss
    record = {"model": reference, "model_id": model_id or spec.model_id, "label": spec.label, "kind": spec.kind,
              "dataset": dataset, "task": ds.task, "n": len(rows), "max_new_tokens": max_new_tokens,
              "metrics": result, "created": time.time(), "seconds": round(time.time() - t0, 2),
              "samples": [{"prompt": prompt_messages(r, ds.task)[-1]["content"][:500],
                           "reference": reference_answers(r, ds.task)[0], "answer": p}
                          for r, p in list(zip(rows, preds))[:5]]}
    record = (store or get_store()).add_evaluation(record)
    progress(1.0, "done")
    return record


def generation_callback(ctx, every: int):
    """A trainer callback computing the task metrics at every ``every``-th evaluation, on the
    first ``eval_samples`` held-out rows, and emitting them as metrics events."""
    from transformers import TrainerCallback

    rows = ctx.eval_rows[: ctx.config.eval_samples]

    class GenerationEval(TrainerCallback):
        count = 0

        def on_evaluate(self, args, state, control, model=None, **kwargs):
            self.count += 1
            if self.count % every or not rows or ctx.task not in GENERATIVE_TASKS or model is None:
                return
            preds = generate(model, ctx.tokenizer, rows, ctx.task, max_new_tokens=ctx.config.eval_max_new_tokens)
            values = {f"eval_{k}": v for k, v in task_metrics(ctx.task, preds, rows).items()}
            ctx.emit("metrics", phase="train", step=state.global_step, epoch=round(state.epoch or 0, 4), **values)

    return GenerationEval()
