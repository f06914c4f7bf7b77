"""Real training of the tiny model through the Job: no mocks of the model or the trainer."""

import time
from pathlib import Path

from forge.training import get_queue, read_all, read_events


def run(cfg):
    q = get_queue()
    rec = q.submit(cfg)
    return q.wait(rec["id"], timeout=600)


def losses(rec, key="loss"):
    return [e[key] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and key in e]


def falls(values):
    k = max(1, len(values) // 4)
    return sum(values[-k:]) / k < sum(values[:k]) / k


def logits(model_dir_or_model, text="Hello there, how are you?"):
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir_or_model[1])
    with torch.no_grad():
        return model_dir_or_model[0](**tok(text, return_tensors="pt")).logits


def test_sft_lora_trains_saves_and_loads_back(tiny_config, tiny_model):
    rec = run(tiny_config(max_steps=16, save_steps=5))
    assert rec["status"] == "completed", rec.get("error")
    assert falls(losses(rec)), losses(rec)
    assert losses(rec, "eval_loss"), "eval loss is logged"
    out = Path(rec["output_dir"])
    for f in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja", "run_config.yaml"):
        assert (out / f).is_file(), f
    ckpts = sorted((Path(rec["run_dir"]) / "checkpoints").glob("checkpoint-*"))
    assert 1 <= len(ckpts) <= 2  # save_total_limit keeps the last two
    assert rec["metrics"]["eval_loss"] > 0 and rec["metrics"]["eval_perplexity"] > 1
    assert rec["provider"] == "huggingface" and "auto" in rec["provider_reason"]

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    before = logits((base, tiny_model))
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out)
    after = logits((tuned, out))
    assert not torch.allclose(before, after, atol=1e-5)

    events = read_all(rec["events_path"])
    kinds = {e["kind"] for e in events}
    assert {"status", "log", "metrics", "progress", "result"} <= kinds
    prog = [e for e in events if e["kind"] == "progress"]
    assert prog[-1]["step"] == 16 and prog[-1]["max_steps"] == 16
    assert any(e.get("tokens_per_second", 0) > 0 for e in prog)
    assert any(e.get("learning_rate") for e in events if e["kind"] == "metrics")
    from forge.runs import get_store

    models = [m for m in get_store().list_models() if m.get("run_id") == rec["id"]]
    assert models and models[0]["kind"] == "adapter" and models[0]["path"] == str(out)


def test_full_finetune_with_lora_rank_zero(tiny_config):
    rec = run(tiny_config(lora_r=0, learning_rate=1e-3, max_steps=10))
    assert rec["status"] == "completed", rec.get("error")
    assert falls(losses(rec))
    out = Path(rec["output_dir"])
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out)


def test_qlora_4bit_trains_on_cpu(tiny_config):
    rec = run(tiny_config(strategy="qlora", max_steps=10))
    assert rec["status"] == "completed", rec.get("error")
    assert rec["config"]["strategy"] == "qlora"
    assert any("4-bit" in e.get("message", "") for e in read_all(rec["events_path"]) if e["kind"] == "log")
    assert falls(losses(rec))
    assert (Path(rec["output_dir"]) / "adapter_config.json").is_file()
    cfg = (Path(rec["output_dir"]) / "run_config.yaml").read_text()
    assert "use_4bit: true" in cfg


def test_8bit_lora_trains_on_cpu(tiny_config):
    rec = run(tiny_config(use_8bit=True, max_steps=8))
    assert rec["status"] == "completed", rec.get("error")
    assert falls(losses(rec))


def test_stop_mid_run_keeps_what_was_trained(tiny_config):
    q = get_queue()
    rec = q.submit(tiny_config(max_steps=400, save_steps=3, eval_split=0))
    offset, step = 0, 0
    deadline = time.time() + 120
    while step < 4 and time.time() < deadline:
        evs, offset = read_events(rec["events_path"], offset)
        step = max([step] + [e["step"] for e in evs if e["kind"] == "progress"])
        time.sleep(0.1)
    assert q.stop(rec["id"]) == "stopping"
    final = q.wait(rec["id"], timeout=120)
    assert final["status"] == "stopped"
    events = read_all(rec["events_path"])
    last = max(e["step"] for e in events if e["kind"] == "progress")
    assert 4 <= last < 400
    assert (Path(final["output_dir"]) / "adapter_model.safetensors").is_file()
    assert list((Path(final["run_dir"]) / "checkpoints").glob("checkpoint-*"))


def test_queue_runs_one_at_a_time_with_positions(tiny_config):
    q = get_queue()
    a = q.submit(tiny_config(max_steps=6, eval_split=0))
    b = q.submit(tiny_config(max_steps=4, eval_split=0))
    assert q.position(b["id"]) == 1
    assert any("1 run(s) ahead" in e.get("message", "") for e in read_all(b["events_path"]))
    ra, rb = q.wait(a["id"], 300), q.wait(b["id"], 300)
    assert ra["status"] == rb["status"] == "completed"
    assert rb["started"] >= ra["finished"]  # never two at once
    assert q.position(a["id"]) is None


def test_cancel_queued_run(tiny_config):
    q = get_queue()
    a = q.submit(tiny_config(max_steps=6, eval_split=0))
    b = q.submit(tiny_config(max_steps=6, eval_split=0))
    assert q.stop(b["id"]) == "cancelled"
    assert q.wait(a["id"], 300)["status"] == "completed"
    assert q.wait(b["id"], 5)["status"] == "stopped"


def test_bad_dataset_fails_before_loading_model(tiny_config, tmp_path, home):
    bad = home / "datasets" / "bad.jsonl"
    bad.write_text('{"input": "a"}\n' * 5)
    rec = run(tiny_config(dataset=str(bad)))
    assert rec["status"] == "failed"
    assert "line 1" in rec["error"] and "missing field 'output'" in rec["error"]
    assert "Traceback" not in rec["error"]
    logs = [e["message"] for e in read_all(rec["events_path"]) if e["kind"] == "log"]
    assert not any(m.startswith("Loading") for m in logs)


def test_wrong_strategy_for_task_is_explained(tiny_config):
    rec = run(tiny_config(dataset="sample:preference_polite", strategy="sft"))
    assert rec["status"] == "failed" and "strategy" in rec["error"] and "preference" in rec["error"]


def test_events_read_by_offset_equal_whole_log(tiny_config):
    rec = run(tiny_config(max_steps=4, eval_split=0))
    path = rec["events_path"]
    whole = read_all(path)
    got, offset = [], 0
    size = Path(path).stat().st_size
    got, offset = read_events(path, 0)
    more, offset2 = read_events(path, offset)
    assert got == whole and more == [] and offset2 == offset == size
    # a partly written line waits for the next read
    with open(path, "a") as f:
        f.write('{"t": 1, "kind": "log", "mess')
    assert read_events(path, offset) == ([], offset)
    with open(path, "a") as f:
        f.write('age": "late"}\n')
    evs, _ = read_events(path, offset)
    assert evs == [{"t": 1, "kind": "log", "message": "late"}]
