"""End-of-run evaluation on the tiny model, for real: task metrics, before/after samples, bounds."""

import json

import pytest

from forge.training import get_queue, read_all


def run(cfg):
    q = get_queue()
    return q.wait(q.submit(cfg)["id"], timeout=900)


def fast(tiny_config, **kw):
    base = dict(max_steps=10, learning_rate=2e-2, lora_r=16, max_samples=80, eval_split=0.1,
                eval_samples=4, eval_max_new_tokens=12, max_seq_length=256,
                eval_budget=1.0,  # every answer scored: these tests read the metrics, not the budget
                eval_steps=100)  # one evaluation, at the last step (the periodic one is tested on its own)
    base.update(kw)
    return tiny_config(**base)


@pytest.mark.parametrize("dataset,keys", [
    ("news_summaries", ("eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_perplexity")),
    ("qa_facts", ("eval_exact_match", "eval_f1", "eval_perplexity")),
    ("pirate_persona", ("eval_rougeL", "eval_perplexity")),
    ("chat_support", ("eval_rougeL", "eval_perplexity")),
])
def test_run_records_task_metrics_and_before_after(tiny_config, dataset, keys):
    rec = run(fast(tiny_config, dataset=f"sample:{dataset}"))
    assert rec["status"] == "completed", rec.get("error")
    m = rec["metrics"]
    for k in keys:
        assert k in m, (k, m)
        assert m[k] > 1 if k.endswith("perplexity") else 0 <= m[k] <= 1, (k, m[k])
        assert f"base_{k}" in m, f"base_{k}"
    ev = rec["evaluation"]
    assert ev["n"] == 4 and len(ev["samples"]) == 4
    for s in ev["samples"]:
        assert s["prompt"] and s["reference"] and s["before"] is not None
    if dataset in ("news_summaries", "pirate_persona"):
        # within this budget the tiny model's greedy answers move on these tasks (the slow test
        # checks the same on the real SmolLM2)
        assert [s["before"] for s in ev["samples"]] != [s["after"] for s in ev["samples"]]
    # LoRA: the base's perplexity is measured on the same rows, and training lowered it
    assert m["eval_perplexity"] < m["base_eval_perplexity"]
    events = read_all(rec["events_path"])
    assert any(e["kind"] == "evaluation" for e in events)
    assert any(e["kind"] == "metrics" and "eval_perplexity" in e for e in events)


def test_generation_is_bounded_by_the_sample_cap(tiny_config, home):
    rows = [{"document": f"Report {i}: the town of Elm counted {i} birds on Monday.", "summary": f"Elm counted {i} birds."}
            for i in range(2000)]
    path = home / "datasets" / "big_summaries.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    rec = run(tiny_config(dataset=str(path), max_samples=None, max_steps=2, eval_split=0.5, eval_samples=3,
                          eval_max_new_tokens=4, eval_steps=1000, per_device_train_batch_size=2, eval_budget=1.0))
    assert rec["status"] == "completed", rec.get("error")
    assert rec["n_eval"] == 1000  # held out; the evaluation loss reads the first eval_max_rows of them
    logs = [e["message"] for e in read_all(rec["events_path"]) if e["kind"] == "log"]
    assert "Evaluation uses 64 of the 1000 held-out rows (eval_max_rows)." in logs
    assert rec["evaluation"]["n"] == 3 and len(rec["evaluation"]["samples"]) == 3


def test_periodic_generation_metrics(tiny_config):
    rec = run(fast(tiny_config, dataset="sample:news_summaries", max_steps=6, eval_steps=2, eval_generate_every=2,
                   eval_samples=2, eval_max_new_tokens=6))
    assert rec["status"] == "completed", rec.get("error")
    steps = [e["step"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "eval_rouge1" in e]
    assert 4 in steps  # every 2nd evaluation (steps 2, 4, 6) → step 4


def test_evaluation_can_be_switched_off(tiny_config):
    rec = run(tiny_config(max_steps=2, eval_samples=0))
    assert rec["status"] == "completed" and "evaluation" not in rec
    assert not any(k.startswith("eval_rouge") for k in rec["metrics"])


def test_evaluate_any_model_stores_comparable_results(tiny_model):
    from forge.evaluation import evaluate_model
    from forge.runs import get_store

    seen = []
    r = evaluate_model(str(tiny_model), "sample:qa_facts", max_samples=3, max_new_tokens=4,
                       progress=lambda f, m: seen.append(f))
    assert set(r["metrics"]) >= {"exact_match", "f1", "perplexity", "loss"}
    assert r["n"] == 3 and seen[-1] == 1.0 and seen == sorted(seen)
    assert any(e["model"] == str(tiny_model) for e in get_store().list_evaluations("sample:qa_facts"))


def test_evaluation_keeps_to_its_budget_and_says_so(tiny_config):
    """Answering is slow next to a few training steps of the tiny model: within the default budget
    only some answers are scored, and the log says why; with the budget lifted, all of them."""
    cfg = dict(max_steps=4, eval_samples=12, eval_max_new_tokens=32, eval_split=0.25, max_samples=80)
    budgeted = run(tiny_config(**cfg))
    assert budgeted["status"] == "completed", budgeted.get("error")
    n = budgeted["evaluation"]["n"]
    assert 1 <= n < 12
    logs = [e["message"] for e in read_all(budgeted["events_path"]) if e["kind"] == "log"]
    assert f"Scored {n} of 12 answers: evaluation is kept within 20% of the run (eval_budget; 1 lifts the limit)." \
        in logs
    share = budgeted["eval_time"]
    assert share["eval_seconds"] > 0 and 0 < share["eval_share"] < 1
    # the page shows what evaluation does, how far it is, and the clock still running
    progress = [e for e in read_all(budgeted["events_path"]) if e["kind"] == "progress" and e.get("activity")]
    assert {"evaluation loss", "scoring answers"} <= {e["activity"] for e in progress}
    scoring = [e for e in progress if e["activity"] == "scoring answers"]
    assert [e["done"] for e in scoring] == sorted(e["done"] for e in scoring) and scoring[-1]["total"] == n
    assert scoring[-1]["elapsed"] > scoring[0]["elapsed"]

    lifted = run(tiny_config(**cfg, eval_budget=1.0, eval_steps=100))  # (no evaluation before the last step)
    assert lifted["evaluation"]["n"] == 12


def test_stop_during_answer_scoring_ends_it_and_keeps_the_model(tiny_config):
    import time

    q = get_queue()
    rec = q.submit(tiny_config(max_steps=2, eval_samples=200, eval_max_new_tokens=64, eval_split=0.5,
                               max_samples=None, eval_budget=1.0))
    deadline = time.time() + 300
    answered = 0
    while answered < 2:
        events = read_all(get_store_run(rec["id"])["events_path"])
        answered = max([e.get("done") or 0 for e in events
                        if e["kind"] == "progress" and e.get("activity") == "scoring answers"], default=0)
        assert time.time() < deadline, "scoring did not start"
        time.sleep(0.05)
    assert q.stop(rec["id"]) == "stopping"
    done = q.wait(rec["id"], timeout=300)
    assert done["status"] == "stopped" and done["output_dir"]
    from pathlib import Path

    assert (Path(done["output_dir"]) / "adapter_model.safetensors").is_file()
    # it ended within one answer of the Stop (the one being written), of the 64 it would have given
    assert answered <= done["evaluation"]["n"] <= answered + 2 < 64
    logs = [e["message"] for e in read_all(done["events_path"]) if e["kind"] == "log"]
    assert any(m.startswith("Scored") and "Stop was pressed" in m for m in logs)


def get_store_run(run_id):
    from forge.runs import get_store

    return get_store().get_run(run_id)
