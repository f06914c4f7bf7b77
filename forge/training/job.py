"""The Job: runs one RunConfig from start to saved artefacts, writing its event log.

catalog.resolve → data.load+validate (before any model loads) → provider.load →
strategy.build_trainer → trainer.train(callbacks=[EventCallback], resume_from_checkpoint=...)
→ save adapter/model, tokenizer, chat template and config → record final metrics.

A Job runs inside a worker process (``forge.training.worker``), once per process when
Accelerate launches several: only the writer (rank 0) writes events, saves and records.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from ..config import RunConfig, resolve_defaults
from ..errors import ConfigError, ForgeError
from ..hardware import free_memory
from ..runs import RunStore
from ..settings import get_settings
from . import checkpoints
from .budget import EvalBudget
from .events import EventLog, NullLog

log = logging.getLogger(__name__)

def run_dir(run_id: str) -> Path:
    return get_settings().runs_dir / run_id


class StopFlag:
    """A run's stop request: a file in its folder, so the server, the CLI and every rank of the
    worker see the same request (``set`` touches it, ``is_set`` looks for it)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "STOP"
        self._seen = False

    def set(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def is_set(self) -> bool:
        self._seen = self._seen or self.path.exists()
        return self._seen

    def clear(self) -> None:
        self._seen = False
        self.path.unlink(missing_ok=True)


def dist_info() -> tuple[int, int]:
    """(rank, world size) of this process under Accelerate's launcher; (0, 1) alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class _NullStore:
    """The run store as the ranks other than the writer see it: they record nothing."""

    def __getattr__(self, name):
        return lambda *a, **k: None


def final_metrics(log_history: list[dict[str, Any]]) -> dict[str, float]:
    """The last value of every metric the trainer logged (loss, eval_loss, rewards, ...)."""
    out: dict[str, float] = {}
    for entry in log_history:
        for k, v in entry.items():
            if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                out[k] = float(v)
    if "eval_loss" in out:
        from ..metrics import perplexity

        out["eval_perplexity"] = perplexity(out["eval_loss"])
    return out


class Job:
    def __init__(self, run_id: str, config: RunConfig, store: RunStore, *, sandbox: bool = False,
                 dataset_name: str | None = None, resume_from: str | Path | None = None,
                 folder: str | Path | None = None):
        self.run_id = run_id
        self.config = config
        self.rank, self.world_size = dist_info()
        self.writer = self.rank == 0
        self.store = store if self.writer else _NullStore()
        self.sandbox = sandbox
        self.dataset_name = dataset_name
        self.resume_from = Path(resume_from) if resume_from else None
        self.dir = Path(folder) if folder else run_dir(run_id)
        self.events = EventLog(self.dir / "events.jsonl") if self.writer else NullLog()
        self.stop_event = StopFlag(self.dir)
        self.status = "queued"
        self._base_loader = None
        self.budget: EvalBudget | None = None
        self._steps = (0, 0)

    # ---- control -------------------------------------------------------------------------
    def stop(self) -> None:
        self.stop_event.set()
        self.log("Stop requested: the run ends after the current step.")

    def log(self, message: str, level: str = "info") -> None:
        self.events.emit("log", level=level, message=message)
        if self.writer:
            log.log(logging.WARNING if level == "warning" else logging.INFO, "[%s] %s", self.run_id, message)

    def _status(self, status: str, message: str = "", result: dict[str, Any] | None = None, **fields: Any) -> None:
        """Log the status (and the run's ``result`` event when it ends), then record it in the store:
        whoever sees the record's end finds the whole log already written."""
        self.status = status
        try:
            self.events.emit("status", status=status, message=message)
            if result is not None:
                self.events.emit("result", status=status, **result)
        finally:  # the store holds the truth even when the log cannot be written (a full disk)
            self.store.update_run(self.run_id, status=status, **fields)

    def _fail(self, message: str, trace: str) -> None:
        """Record a failure, each write on its own: on a full disk the log may refuse what the store
        takes. A checkpoint the failure cut off is removed first (it frees the space it held)."""
        if self.writer:
            checkpoints.remove_partial(self.dir / "checkpoints")
        for write in (lambda: self.events.emit("log", level="error", message=message, traceback=trace),
                      lambda: self._status("failed", message, finished=time.time(), error=message,
                                           result={"metrics": {}, "output_dir": None, "error": message})):
            try:
                write()
            except OSError:
                log.exception("run %s: could not record its failure", self.run_id)

    # ---- the run -------------------------------------------------------------------------
    def run(self) -> str:
        """Run to the end; returns the final status. Never raises."""
        self._status("running", "Run resumed" if self.resume_from else "Run started", worker_pid=os.getpid(),
                     **({} if self.resume_from else {"started": time.time()}))
        trainer = loaded = None
        try:
            trainer, loaded, ctx = self._prepare()
            if self.stop_event.is_set():
                raise _Stopped()
            return self._train(trainer, loaded, ctx)
        except _Stopped as stopped:
            stage = stopped.args[0] if stopped.args else None
            self._status("stopped", f"Run stopped in its {stage} stage, before the main training." if stage
                         else "Run stopped before training began.", finished=time.time(),
                         result={"metrics": {}, "output_dir": None, "error": None})
            return "stopped"
        except BaseException as e:  # noqa: BLE001 — every failure must reach the record
            message = failure_message(e)
            if trainer is not None and not isinstance(e, ForgeError):
                message += " " + checkpoints.last_good_text(self.dir / "checkpoints")
            if isinstance(e, ForgeError):
                log.info("run %s failed: %s", self.run_id, e.message)
            else:
                log.exception("run %s failed", self.run_id)
            self._fail(message, traceback.format_exc())
            if not isinstance(e, Exception):
                raise
            return "failed"
        finally:
            del trainer, loaded
            free_memory()

    def _train(self, trainer, loaded, ctx) -> str:
        """Train (from the checkpoint when resuming), evaluate, save and record; the final status."""
        self.log(f"Training: {len(ctx.train_rows)} training rows, {len(ctx.eval_rows)} evaluation rows"
                 + (f", on {self.world_size} processes." if self.world_size > 1 else "."))
        if self.resume_from:
            self.log(f"Resuming from {self.resume_from.name}: model, optimizer, scheduler and random state.")
        trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
        status = "stopped" if self.stop_event.is_set() else "completed"
        self._steps = (trainer.state.global_step, trainer.state.max_steps)
        evaluated = [h["step"] for h in trainer.state.log_history if "eval_loss" in h]
        if (ctx.eval_rows and status == "completed" and getattr(trainer, "eval_dataset", None) is not None
                and (not evaluated or evaluated[-1] != trainer.state.global_step)):
            self._evaluation_progress("evaluation loss")
            if self.budget:
                self.budget.eval_started()
            trainer.evaluate()  # the final eval loss; logged through the EventCallback
            if self.budget:
                self.budget.eval_ended()
        metrics = final_metrics(trainer.state.log_history)
        from ..evaluation import GENERATIVE_TASKS

        if status == "completed" and self.config.eval_samples and ctx.eval_rows and ctx.task in GENERATIVE_TASKS:
            metrics.update(self._evaluate(trainer, ctx))
            if self.stop_event.is_set():
                status = "stopped"
        if self.budget and self.writer:
            self.store.update_run(self.run_id, eval_time=self.budget.summary())
        out = self._save(trainer, loaded, ctx)
        metrics.update({k: v for k, v in ctx.extras.get("metrics", {}).items()})
        if not self.writer:
            return status
        message = "Run stopped; the model trained so far was saved." if status == "stopped" else "Run completed."
        self.log(message + f" Saved to {out}")
        self._status(status, message, finished=time.time(), metrics=metrics, output_dir=str(out),
                     result={"metrics": metrics, "output_dir": str(out), "error": None})
        return status

    def _prepare(self):
        from .. import catalog, data
        from ..hardware import ModelShape, detect, estimate_run_disk, profile_defaults
        from ..memory import estimate_run_memory
        from ..providers import choose_provider
        from ..strategies import TrainContext, get_strategy
        hw = detect()
        strategy = get_strategy(self.config.strategy)
        ok, why = strategy.available(hw)
        if not ok:
            raise ConfigError(f"strategy: {strategy.name} cannot run on this machine: {why}")
        config = strategy.prepare_config(resolve_defaults(self.config, profile_defaults(hw)))
        self.config = config
        self.log(f"Hardware: {hw.summary()}" + (f" · {self.world_size} processes" if self.world_size > 1 else ""))
        if self.writer:
            (self.dir / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")

        self.log(f"Reading dataset {self.dataset_name or config.dataset}...")
        ds = data.load(config.dataset, config.task, sandbox=self.sandbox, max_samples=config.max_samples,
                       fill=config.template_values, columns=config.columns,
                       display_name=self.dataset_name, tasks=strategy.tasks)
        for n in ds.notices:
            self.log(n)
        if ds.task not in strategy.tasks:
            raise ConfigError(
                f"strategy: {strategy.name} trains on {', '.join(strategy.tasks)} data, but this dataset is {ds.task}.",
                "Choose a strategy that fits the data, or a dataset of the right task.")
        train_rows, eval_rows = ds.split(config.eval_split, config.seed)
        self.store.update_run(self.run_id, task=ds.task, n_train=len(train_rows), n_eval=len(eval_rows))
        eval_rows = self._evaluation_plan(config, eval_rows)

        self.log(f"Resolving model {config.model_name}...")
        if catalog.is_embedded(config.model_name) and not catalog.embedded_ready():
            self.log("Unpacking the embedded model (once, about 20 s; `python -m forge prepare` does it ahead)...")
        resolved = catalog.resolve(config.model_name)
        provider, why = choose_provider(config, resolved)
        self.log(f"Provider: {why}")
        self.store.update_run(self.run_id, provider=provider.name, provider_reason=why, model_path=str(resolved.path))
        try:
            from transformers import AutoConfig

            shape = ModelShape.from_config(AutoConfig.from_pretrained(resolved.path))
            est = estimate_run_memory(config, shape, hw, num_processes=self.world_size)
            self.log(f"Memory estimate: {est.summary()}", "warning" if est.warning else "info")
            disk = estimate_run_disk(config, shape, self.dir)
            self.log(f"Disk estimate: {disk.summary()}" + (f"\n⚠️ {disk.warning}" if disk.warning else ""),
                     "warning" if disk.warning else "info")
        except Exception as e:  # an estimate must never stop a run
            self.log(f"No memory estimate for this model ({type(e).__name__}).", "warning")
        if self.stop_event.is_set():
            raise _Stopped()
        self.log(f"Loading {resolved.describe()} with {provider.name}...")
        t0 = time.time()
        loaded = provider.load(resolved, config)
        for n in loaded.notes:
            self.log(n)
        self.log(f"Model loaded in {time.time() - t0:.1f} s.")
        ctx = TrainContext(model=loaded.model, tokenizer=loaded.tokenizer, train_rows=train_rows, eval_rows=eval_rows,
                           task=ds.task, config=config, output_dir=self.dir / "checkpoints",
                           callbacks=[self._callback("train")], hardware=hw,
                           peft_applied=loaded.peft_applied, log=self.log, emit=self.events.emit,
                           model_path=str(resolved.path), run_dir=self.dir, sandbox=self.sandbox,
                           callbacks_for=lambda phase: [self._callback(phase)], resuming=self.resume_from is not None)
        self._base_loader = lambda: provider.load(resolved, config).model
        if config.eval_generate_every and eval_rows:
            from ..evaluation import generation_callback

            ctx.callbacks.append(generation_callback(ctx, config.eval_generate_every))
        self._stages(strategy, ctx)
        trainer = strategy.build_trainer(ctx)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # the event log replaces its prints
        return trainer, loaded, ctx

    def _stages(self, strategy, ctx) -> None:
        """The strategy's stages before its main trainer (RLHF's reward model), each announced as a
        phase, its metrics tagged with it; a Stop during one ends the run there."""
        stages = strategy.stages(ctx)
        for i, stage in enumerate(stages):
            if self.stop_event.is_set():
                raise _Stopped()
            stage.run(ctx, ctx.start_phase(stage.name, i, len(stages) + 1, stage.message))
        if self.stop_event.is_set():
            raise _Stopped(stages[-1].name if stages else None)

    def _evaluation_plan(self, config: RunConfig, eval_rows: list[dict]) -> list[dict]:
        """The held-out rows the evaluation reads (at most ``eval_max_rows``), and its budget."""
        if config.eval_max_rows and len(eval_rows) > config.eval_max_rows:
            self.log(f"Evaluation uses {config.eval_max_rows} of the {len(eval_rows)} held-out rows (eval_max_rows).")
            eval_rows = eval_rows[: config.eval_max_rows]
        rows_per_step = (config.per_device_train_batch_size or 1) * (config.gradient_accumulation_steps or 1) \
            * self.world_size
        self.budget = EvalBudget(config.eval_budget, automatic_cadence=config.eval_steps is None,
                                 eval_rows_per_step=len(eval_rows) / rows_per_step)
        return eval_rows

    def _callback(self, phase: str):
        from .callback import EventCallback

        return EventCallback(self.events, self.stop_event, phase=phase, world_size=self.world_size,
                             budget=self.budget if phase == "train" else None)

    def _evaluate(self, trainer, ctx) -> dict[str, float]:
        """Task metrics and before/after samples on the held-out rows (see forge.evaluation)."""
        from .. import evaluation

        if not self.writer:
            return {}
        n = min(len(ctx.eval_rows), self.config.eval_samples)
        self.log(f"Evaluating: answering up to {n} held-out prompts with the fine-tuned model and its base...")
        budget = self.budget
        if budget:
            budget.eval_started()
        try:
            result = evaluation.end_of_run(
                trainer, ctx, base_loader=self._base_loader, stop=self.stop_event.is_set,
                progress=lambda i, total, eta: self._evaluation_progress(
                    "scoring answers", i, total, min(eta, max(budget.left(), 0.0)) if eta and budget and budget.limited
                    else eta),
                over_budget=(lambda cost: budget.left() < cost) if budget and budget.limited else None,
                eval_cost=(budget.last_eval or 0.0) if budget else 0.0)
        except Exception as e:  # a failed evaluation must not lose the trained model
            log.exception("evaluation of run %s failed", self.run_id)
            self.log(f"Evaluation failed ({type(e).__name__}: {str(e)[:200]}); the model is saved all the same.", "warning")
            return {}
        finally:
            if budget:
                budget.eval_ended()
        if not result:
            return {}
        if result["n"] < n:
            why = "Stop was pressed" if self.stop_event.is_set() else (
                f"evaluation is kept within {budget.share:.0%} of the run (eval_budget; 1 lifts the limit)")
            self.log(f"Scored {result['n']} of {n} answers: {why}.")
        flat = evaluation.flat(result)
        self.events.emit("evaluation", **result)
        self.store.update_run(self.run_id, evaluation=result)
        self.log("Evaluation: " + ", ".join(f"{k} {v:.4g}" for k, v in flat.items()) + f" ({result['seconds']} s)")
        return flat

    def _evaluation_progress(self, activity: str, done: int | None = None, total: int | None = None,
                             eta: float | None = None) -> None:
        """A progress event while evaluating after the last step: what it does, how far (``done`` of
        ``total``), the run's elapsed time and what is left."""
        step, max_steps = self._steps
        elapsed = self.budget.elapsed() if self.budget else 0.0
        self.events.emit("progress", phase="train", step=step, max_steps=max_steps, elapsed=round(elapsed, 2),
                         eta=round(eta, 1) if eta is not None else None, activity=activity,
                         **({"done": done, "total": total} if total else {}))

    def _save(self, trainer, loaded, ctx) -> Path:
        """Write the model into ``model.partial`` and rename it to ``model`` once whole, so a model
        folder cut off mid-write is never listed; then record it (replacing this run's earlier model
        when a finished run was trained further)."""
        out, partial = self.dir / "model", self.dir / "model.partial"
        if self.writer and partial.exists():
            shutil.rmtree(partial)
        trainer.save_model(str(partial))  # every rank: FSDP and DeepSpeed gather the weights here
        if not self.writer:
            return out
        tok = getattr(trainer, "processing_class", None) or loaded.tokenizer
        tok.save_pretrained(str(partial))
        (partial / "run_config.yaml").write_text(self.config.to_yaml(), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(partial, out)
        kind = "adapter" if (out / "adapter_config.json").is_file() else "full"
        rec = self.store.get_run(self.run_id) or {}
        record = {
            "name": rec.get("name") or self.run_id, "run_id": self.run_id, "kind": kind, "path": str(out),
            "base_model": self.config.model_name, "task": ctx.task, "strategy": self.config.strategy,
            "quantized_base": bool(self.config.use_4bit or self.config.use_8bit),
            **({"artifacts": ctx.extras["artifacts"]} if ctx.extras.get("artifacts") else {}),
        }
        earlier = next((m for m in self.store.list_models() if m.get("run_id") == self.run_id
                        and m.get("path") == str(out)), None)
        if earlier:
            self.store.update_model(earlier["id"], **{k: v for k, v in record.items() if k != "name"})
        else:
            from ..models import free_name

            self.store.add_model({**record, "name": free_name(record["name"], self.store)})
        return out


class _Stopped(Exception):
    pass


def failure_message(e: BaseException) -> str:
    """What a user reads when a run fails: the ForgeError's own words, out of memory in plain terms,
    otherwise the exception's type and text."""
    if isinstance(e, ForgeError):
        return str(e)
    text = str(e).lower()
    if isinstance(e, MemoryError) or "out of memory" in text or "can't allocate memory" in text:
        return ("Training ran out of memory. Lower the batch size or the sequence length, use LoRA "
                "instead of full fine-tuning, or 4-bit quantization (qlora).")
    if getattr(e, "errno", None) == 28 or "no space left on device" in text:
        return (f"The disk is full ({type(e).__name__}: {str(e)[:300]}). Free space in the ModelForge home "
                f"({get_settings().home}) or lower save_total_limit, then resume the run.")
    return f"Training failed: {type(e).__name__}: {str(e)[:500]}"


