"""The model card of a fine-tuned model: metadata, what was trained on what with which strategy and
settings, the final metrics, the loss curve, the before/after evaluation and how to use it."""

from __future__ import annotations

import contextlib
import json
import re
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

from .provenance import base_hub_id, dataset_ref

_SETTINGS_SHOWN = ("num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_ratio",
                   "per_device_train_batch_size", "gradient_accumulation_steps", "max_seq_length", "lora_r",
                   "lora_alpha", "lora_dropout", "target_modules", "use_4bit", "use_8bit", "bf16", "fp16",
                   "packing", "gradient_checkpointing", "weight_decay", "eval_split", "max_samples", "seed")
_PRIVATE_SETTINGS = {"model_name", "dataset", "output_dir", "run_name", "logging_dir", "resume_from_checkpoint"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v, ensure_ascii=False, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(v)


def _cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _versions() -> str:
    out = []
    for pkg in ("transformers", "peft", "trl", "torch", "datasets"):
        with contextlib.suppress(Exception):
            out.append(f"{pkg} {_metadata.version(pkg)}")
    return ", ".join(out)


_NOISE = re.compile(r"(runtime|per_second|flos|num_tokens|num_input_tokens_seen|learning_rate|grad_norm|epoch)$")


def _shown_metrics(metrics: dict) -> dict[str, float]:
    """The run's final metrics worth a reader's eye (no throughput counters, no optimizer state)."""
    return {k: float(v) for k, v in (metrics or {}).items()
            if isinstance(v, (int, float)) and not _NOISE.search(k) and not k.startswith("base_eval_")}


def _eval_results(metrics: dict, evaluation: dict | None, dataset: dict) -> list:
    from huggingface_hub import EvalResult

    values: dict[str, float] = {}
    for k, v in _shown_metrics(metrics).items():
        if k.startswith("eval_") and k != "eval_entropy":
            values[k[len("eval_"):]] = v
    for k, v in ((evaluation or {}).get("metrics") or {}).items():
        if isinstance(v, (int, float)):
            values.setdefault(k, float(v))
    ds_type = dataset["hub_id"] or (f"modelforge/sample-{dataset['name']}" if dataset["kind"] == "sample" else "custom")
    return [EvalResult(task_type="text-generation", dataset_type=ds_type, dataset_name=dataset["name"],
                       metric_type=k, metric_name=k, metric_value=round(v, 6))
            for k, v in values.items() if v == v and abs(v) != float("inf")]


def _trained_config(run: dict) -> dict:
    """The settings a run trained with: its config as the Job resolved it (profile defaults and what
    the strategy implies, such as 4-bit for qlora), over the settings the user gave."""
    config = dict(run.get("config") or {})
    path = Path(run.get("run_dir") or "") / "config.yaml"
    if run.get("run_dir") and path.is_file():
        import yaml

        try:
            resolved = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            resolved = None
        if isinstance(resolved, dict):
            config.update(resolved)
    return config


def build_card(model: dict, run: dict | None, repo_id: str, *, kind: str, license: str | None = None,
               image: str | None = "loss_curve.png"):
    """The model card (a ``huggingface_hub.ModelCard``) of a fine-tuned model: metadata, what was
    trained on what with which strategy and settings, the final metrics, the loss curve, usage."""
    from huggingface_hub import ModelCard

    facts = _card_facts(model, run or {}, kind)
    data = _card_data(facts, repo_id, license)
    lines = (_card_intro(facts, repo_id) + _card_training(facts) + _card_results(facts, image)
             + _card_evaluation(facts["evaluation"]) + _card_usage(facts, repo_id))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def _card_facts(model: dict, run: dict, kind: str) -> dict[str, Any]:
    """What a card says, each fact read once: from the model record, then its run, then the run's config."""
    config = _trained_config(run)
    base = model.get("base_model") or run.get("base_model") or config.get("model_name")
    strategy = model.get("strategy") or run.get("strategy") or config.get("strategy") or "sft"
    return {
        "model": model, "run": run, "config": config, "kind": kind, "is_adapter": kind == "adapter",
        "base": base, "base_id": base_hub_id(base), "strategy": strategy, "strategy_label": _strategy_label(strategy),
        "task": model.get("task") or run.get("task") or config.get("task") or "text-generation",
        "dataset": dataset_ref(run.get("dataset") or config.get("dataset")), "metrics": run.get("metrics") or {},
        "evaluation": run.get("evaluation") or model.get("evaluation"),
        "quantized": bool(model.get("quantized_base") or config.get("use_4bit") or config.get("use_8bit")),
    }


def _strategy_label(strategy: str) -> str:
    try:
        from ..strategies import STRATEGIES

        return getattr(STRATEGIES.get(strategy), "label", None) or strategy
    except Exception:  # a registry that fails to import must not block a card
        return strategy


def _card_data(facts: dict[str, Any], repo_id: str, license: str | None):
    from huggingface_hub import ModelCardData

    kind, config, dataset = facts["kind"], facts["config"], facts["dataset"]
    tags = ["modelforge", "trl", facts["strategy"], "text-generation"]
    tags += ["lora", "peft"] if facts["is_adapter"] else ["merged"] if kind == "merged" else []
    tags += ["gguf", "llama.cpp", "ollama"] if kind == "gguf" else []
    if facts["quantized"]:
        tags.append("qlora" if config.get("use_4bit") else "8bit-lora")
    return ModelCardData(
        base_model=facts["base_id"], license=license,
        library_name={"adapter": "peft", "gguf": "gguf"}.get(kind, "transformers"),
        tags=list(dict.fromkeys(tags)), datasets=[dataset["hub_id"]] if dataset["hub_id"] else None,
        pipeline_tag="text-generation", model_name=repo_id.split("/")[-1],
        eval_results=_eval_results(facts["metrics"], facts["evaluation"], dataset) or None)


def _card_intro(facts: dict[str, Any], repo_id: str) -> list[str]:
    base, base_id, dataset = facts["base"], facts["base_id"], facts["dataset"]
    base_md = (f"[{base_id}](https://huggingface.co/{base_id})" if base_id
               else f"a local model (`{Path(str(base)).name}`)")
    what = {"adapter": "A LoRA adapter", "merged": "A model (LoRA adapter merged into its base)",
            "full": "A fully fine-tuned model",
            "gguf": "A GGUF file (llama.cpp, Ollama, LM Studio) of a model"}.get(facts["kind"], "A fine-tuned model")
    ds_md = {"hub": f"[{dataset['name']}](https://huggingface.co/datasets/{dataset['name']})",
             "sample": f"ModelForge's built-in sample dataset `{dataset['name']}`",
             "file": f"a local dataset file (`{dataset['name']}`)"}[dataset["kind"]]
    return [f"# {repo_id.split('/')[-1]}", "",
            f"{what} fine-tuned from {base_md} on {ds_md}, with the **{facts['strategy_label']}** strategy, "
            f"using ModelForge.", ""]


def _card_training(facts: dict[str, Any]) -> list[str]:
    """The Training section: what was trained on what, and the settings that shaped it."""
    run, config, dataset = facts["run"], facts["config"], facts["dataset"]
    lines = ["## Training", "", "| | |", "|---|---|",
             f"| Base model | {facts['base_id'] or Path(str(facts['base'])).name} |", f"| Task | {facts['task']} |",
             f"| Dataset | {dataset['name']} ({dataset['kind']}) |",
             f"| Strategy | {facts['strategy_label']} (`{facts['strategy']}`) |"]
    if run.get("n_train") is not None:
        lines.append(f"| Rows | {run.get('n_train')} training, {run.get('n_eval') or 0} evaluation |")
    if run.get("provider"):
        lines.append(f"| Provider | {run['provider']} |")
    if facts["quantized"]:
        lines.append(f"| Quantized base | {'4-bit (QLoRA)' if config.get('use_4bit') else '8-bit'} |")
    if run.get("started") and run.get("finished"):
        lines.append(f"| Training time | {int(run['finished'] - run['started'])} s |")
    shown = [k for k in _SETTINGS_SHOWN if config.get(k) is not None]
    shown += [k for k in run.get("config_set") or [] if k not in shown and k not in _PRIVATE_SETTINGS
              and config.get(k) is not None]
    if shown:
        lines += ["", "### Settings", "", "| Setting | Value |", "|---|---|"]
        lines += [f"| {k} | {_cell(config[k])} |" for k in shown]
    return lines


def _card_results(facts: dict[str, Any], image: str | None) -> list[str]:
    lines = ["", "## Results", ""]
    shown_metrics = _shown_metrics(facts["metrics"])
    if shown_metrics:
        lines += ["| Metric | Final value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in sorted(shown_metrics.items())]
    else:
        lines.append("No metrics were recorded for this run.")
    if image:
        lines += ["", f"![Training and evaluation loss]({image})"]
    return lines


def _card_evaluation(evaluation: dict | None) -> list[str]:
    """The before/after Evaluation section (none when the run scored no answers)."""
    if not evaluation or not (evaluation.get("metrics") or evaluation.get("base_metrics")):
        return []
    after, before = evaluation.get("metrics") or {}, evaluation.get("base_metrics") or {}
    lines = ["", "## Evaluation", "",
             f"On {evaluation.get('n', '?')} held-out rows, before (base model) and after fine-tuning:", "",
             "| Metric | Base | Fine-tuned |", "|---|---|---|"]
    lines += [f"| {k} | {_cell(before[k]) if k in before else '-'} | {_cell(after[k]) if k in after else '-'} |"
              for k in sorted(set(after) | set(before))]
    samples = [s for s in evaluation.get("samples") or [] if s.get("after")][:3]
    if samples:
        lines += ["", "| Prompt | Base model | Fine-tuned |", "|---|---|---|"]
        lines += [f"| {_cell(str(s.get('prompt'))[:150])} | {_cell(str(s.get('before') or '-')[:150])} | "
                  f"{_cell(str(s.get('after'))[:150])} |" for s in samples]
    return lines


def _gguf_usage(facts: dict[str, Any], repo_id: str) -> list[str]:
    name = facts["model"].get("gguf_file") or "model.gguf"
    return ["", "## Usage", "", f"A GGUF file ({facts['model'].get('quant') or 'gguf'}) with its tokenizer and chat "
            "template, for llama.cpp, Ollama and LM Studio.", "", "```bash",
            f"llama-cli -hf {repo_id} -p \"Hello! Who are you?\"",
            f"ollama run hf.co/{repo_id}", "```", "",
            f"The repository's `Modelfile` runs `{name}` with `ollama create my-model -f Modelfile`.", ""]


def _card_usage(facts: dict[str, Any], repo_id: str) -> list[str]:
    is_adapter, base_id = facts["is_adapter"], facts["base_id"]
    if facts["kind"] == "gguf":
        return _gguf_usage(facts, repo_id)
    lines = ["", "## Usage", "", "```python", *_usage(repo_id, is_adapter), "```", ""]
    if facts["model"].get("merged_from_quantized"):
        lines += ["The adapter was trained on a 4-bit quantized base (QLoRA) and merged into the full-precision "
                  "base: answers can differ slightly from those of the 4-bit fine-tuned model.", ""]
    if is_adapter and base_id:
        lines += [f"The adapter loads on top of its base, {base_id}, which is downloaded too.", ""]
    elif is_adapter:
        lines += ["The base model was a local folder: set `base_model_name_or_path` in `adapter_config.json` to a "
                  "Hub id or folder holding it.", ""]
    versions = _versions()
    if versions:
        lines += ["## Framework versions", "", versions, ""]
    return lines


def _usage(repo_id: str, is_adapter: bool) -> list[str]:
    load = (["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer", "",
             f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}")']
            if is_adapter else
            ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             f'model = AutoModelForCausalLM.from_pretrained("{repo_id}")'])
    return load + [f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
                   'messages = [{"role": "user", "content": "Hello! Who are you?"}]',
                   "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,",
                   '                                       return_tensors="pt", return_dict=True)',
                   "output = model.generate(**inputs, max_new_tokens=128)",
                   'print(tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))']


