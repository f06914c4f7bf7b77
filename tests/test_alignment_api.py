"""The alignment strategies through the page's API (/train), driven with gradio_client."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client, handle_file

from ui_server import running_app, wait_idle


@pytest.fixture(scope="module")
def client(tiny_model):
    with running_app() as url:
        yield Client(url, verbose=False)


SMALL = dict(max_steps=2, per_device_train_batch_size=4, max_samples=16, eval_split=0.0, max_seq_length=96)

CASES = {
    "dpo": (dict(dataset="sample:preference_polite"), "rewards/accuracies"),
    "orpo": (dict(dataset="sample:preference_polite"), "rewards/accuracies"),
    "kto": (dict(dataset="sample:feedback_polite"), "rewards/margins"),
    "grpo": (dict(dataset="sample:math_prompts", num_generations=2, max_completion_length=4,
                  reward_funcs=[{"type": "exact_match"}, {"type": "format", "format": "number", "weight": 0.5}]),
             "rewards/format_number/mean"),
    "rlhf": (dict(dataset="sample:preference_polite", reward_max_steps=2, num_generations=2, max_completion_length=4,
                  eval_split=0.25), "reward"),
}


@pytest.mark.parametrize("strategy", list(CASES))
def test_train_each_strategy_through_the_api(client, tiny_config, strategy):
    wait_idle()
    extra, key = CASES[strategy]
    final = None
    events = []
    for update in client.submit(tiny_config(strategy=strategy, run_name=f"api-{strategy}", **{**SMALL, **extra}),
                                None, api_name="/train"):
        final = update
        events += update["events"]
    assert final["status"] == "completed", final
    metrics = [e for e in events if e["kind"] == "metrics"]
    assert any(key in e for e in metrics), (key, metrics[-1])
    if strategy == "rlhf":
        assert [e["name"] for e in events if e["kind"] == "phase"] == ["reward", "policy"]
        assert any("eval_accuracy" in e and e["phase"] == "reward" for e in metrics)
    run = client.predict(final["run_id"], api_name="/run")
    assert run["config"]["strategy"] == strategy and run["status"] == "completed"
    assert key in run["metrics"] or strategy == "rlhf" and "reward_model/eval_accuracy" in run["metrics"]


def test_bad_preference_file_is_refused_with_line_numbers(client, tiny_config, tmp_path):
    wait_idle()
    bad = tmp_path / "prefs.jsonl"
    rows = [{"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}] * 4 + [
        {"prompt": "Hi", "chosen": "Same", "rejected": "Same"}, {"chosen": "a", "rejected": "b"}]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    final = client.predict(tiny_config(strategy="dpo", task="preference"), handle_file(str(bad)), api_name="/train")
    assert final["status"] == "failed"
    assert "prefs.jsonl, line 5" in final["error"] and "prefs.jsonl, line 6" in final["error"], final["error"]
