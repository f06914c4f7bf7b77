"""Adding a strategy is one class plus one registry line: a toy strategy (SFT with TRL's DFT loss)
registered here shows on the form, gets a memory estimate, draws its own series on the plots,
is listed by the API, and trains for real through the Job (the code a run's worker process runs),
with no other file changed."""

from __future__ import annotations

import pytest

from forge.strategies import STRATEGIES
from forge.strategies.sft import SFTStrategy
from forge.training.state import expected_series
from forge.ui.choices import strategy_choices, strategy_options
from forge.ui.form import form_defaults, memory_estimate


class DFTStrategy(SFTStrategy):
    name = "dft"
    label = "DFT (SFT with the dynamic fine-tuning loss)"
    description = "SFT whose token losses are weighted by the model's own probability of each token."
    metric_keys = ("mean_token_accuracy",)

    def sft_config(self, ctx, n_examples: int):
        config = super().sft_config(ctx, n_examples)
        config.loss_type = "dft"
        return config


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(STRATEGIES, "dft", DFTStrategy)  # the one registry line
    return "dft"


def test_a_registered_strategy_is_on_the_form_in_the_estimate_and_the_plots(registered, tiny_model):
    from forge.hardware import detect

    options = {o["name"]: o for o in strategy_options(detect())}
    assert options["dft"]["label"].startswith("DFT") and options["dft"]["available"]
    assert ("DFT (SFT with the dynamic fine-tuning loss)", "dft") in strategy_choices(detect())
    values = {**form_defaults(), "model_name": str(tiny_model), "strategy": "dft"}
    text, warning = memory_estimate(values)
    assert "Memory estimate" in text and "GiB" in text and not warning
    series = expected_series({"config": {"strategy": "dft", "eval_split": 0.1}}, "dft")
    assert "train loss" in series["loss"] and any("mean_token_accuracy" in s for s in series["strategy"])


def test_a_registered_strategy_is_listed_by_the_api_and_trains(registered, tiny_config):
    from gradio_client import Client

    from forge.config import RunConfig
    from forge.runs import get_store, new_id
    from forge.training import read_all
    from forge.training.job import Job, run_dir
    from ui_server import running_app

    with running_app() as url:
        listed = {s["name"]: s for s in Client(url, verbose=False).predict(api_name="/strategies")}
    assert listed["dft"]["description"].startswith("SFT whose token losses")

    run_id = new_id()
    folder = run_dir(run_id)
    config = RunConfig(**tiny_config(strategy="dft", max_steps=4, eval_samples=0))
    get_store().create_run({"id": run_id, "name": "dft", "config": config.model_dump(), "status": "queued",
                            "events_path": str(folder / "events.jsonl"), "run_dir": str(folder)})
    assert Job(run_id, config, get_store()).run() == "completed"
    events = read_all(folder / "events.jsonl")
    accuracy = [e["mean_token_accuracy"] for e in events if e["kind"] == "metrics" and "mean_token_accuracy" in e]
    assert len(accuracy) >= 4, events
