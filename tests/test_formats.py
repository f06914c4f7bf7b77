"""Datasets in the formats people bring, taken as they are: ShareGPT conversations (with a system
column, and with tool calls and a tools column), ShareGPT and OpenAI-style preference pairs, KTO
rows of messages plus a boolean label, OpenAI chat files, and plain text for continued
pre-training (a ``text`` column, or a .txt file of passages). The fixtures in tests/data/formats
follow each format's published description (LLaMA-Factory's data/README, OpenAI's fine-tuning
guide); each is detected and mapped with a notice; each way into training (chat with tools, preference
pairs, KTO rows, plain text) trains a few steps of the tiny model, plain text also from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forge import data
from forge.errors import DataError
from forge.training import get_queue, read_all

ROOT = Path(__file__).resolve().parents[1]
FORMATS = Path(__file__).parent / "data" / "formats"

# file, task detected, strategy it trains with, a notice it gets
CASES = [
    ("sharegpt.json", "chat", "sft", "Columns mapped: conversations → messages"),
    ("sharegpt_tools.json", "chat", "sft", "Columns mapped: conversations → messages"),
    ("sharegpt_preference.json", "preference", "dpo", "Columns mapped: conversations → prompt"),
    ("openai_chat.jsonl", "chat", "sft", "Task detected from the columns: chat"),
    ("openai_preference.jsonl", "preference", "dpo", "Columns mapped: messages → prompt"),
    ("kto.jsonl", "feedback", "kto", "Columns mapped: kto_tag → label"),
    ("pretrain.jsonl", "text", "sft", "Task detected from the columns: text"),
    ("pretrain.txt", "text", "sft", "Task detected from the columns: text"),
]


@pytest.mark.parametrize("name,task,strategy,notice", CASES, ids=[c[0] for c in CASES])
def test_each_format_is_detected_and_mapped(name, task, strategy, notice):
    ds = data.load(str(FORMATS / name))
    assert ds.task == task and len(ds) == 8 and notice in ds.notices
    row = ds.rows[0]
    if name.startswith("sharegpt.json"):
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]  # the system column first
    if name == "sharegpt_tools.json":
        assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    if task == "preference":
        assert isinstance(row["prompt"], list) and row["prompt"][-1]["role"] == "user"
        assert "chosen" in row and "rejected" in row and row["chosen"] != row["rejected"]
    if task == "feedback":
        assert row["completion"] and isinstance(row["label"], bool) and row["prompt"][-1]["role"] == "user"
    if task == "text":
        assert ds.preview(1)[0]["answer"].startswith("On the tide")


def test_tool_specs_go_where_the_model_can_read_them():
    from forge.data import place_tools

    rows = data.load(str(FORMATS / "sharegpt_tools.json")).rows
    kept, note = place_tools(rows, "{% for m in messages %}{{ m.content }}{% endfor %}{{ tools }}", "some/model")
    assert note is None and kept[0]["tools"]  # a template that renders tools gets them as they are
    placed, note = place_tools(rows, "{% for m in messages %}{{ m.content }}{% endfor %}", "tiny-model")
    assert "tiny-model has no place for tool specs" in note
    assert placed[0]["messages"][0]["role"] == "system" and "tide_table" in placed[0]["messages"][0]["content"]
    assert "tools" not in placed[0]


@pytest.mark.parametrize("text,words", [
    ('{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}], "tools": "[not json"}',
     "field 'tools' must be a JSON list"),
    ('{"conversations": [{"from": "human", "value": "hi"}, {"from": "observation", "value": "{}"},'
     ' {"from": "gpt", "value": "yo"}]}', "does not follow a tool call"),
    ('{"conversations": [{"from": "gpt", "value": "yo"}, {"from": "human", "value": "hi"}]}',
     "must be from the assistant"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "kto_tag": "maybe"}',
     "must be true or false"),
    ('{"messages": [{"role": "user", "content": "hi"}], "kto_tag": true}', "it is the completion the label rates"),
], ids=["tools-not-json", "observation-first", "ends-with-user", "label-not-bool", "kto-no-completion"])
def test_bad_rows_of_these_formats_name_their_line(tmp_path, text, words):
    good = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    if "kto_tag" in text:
        good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                "kto_tag": True}
    f = tmp_path / "rows.jsonl"
    f.write_text("\n".join([json.dumps(good)] * 4 + [text]) + "\n")
    with pytest.raises(DataError) as e:
        data.load(str(f))
    assert [p.line for p in e.value.problems] == [5] and words in e.value.problems[0].message, e.value.problems


# one fixture per way into training (the others reach the same rows once mapped, as the test above shows)
TRAINED = [c for c in CASES if c[0] in ("sharegpt_tools.json", "sharegpt_preference.json", "kto.jsonl",
                                         "pretrain.jsonl")]


@pytest.mark.parametrize("name,task,strategy,notice", TRAINED, ids=[c[0] for c in TRAINED])
def test_each_format_trains(tiny_config, name, task, strategy, notice):
    q = get_queue()
    cfg = tiny_config(dataset=str(FORMATS / name), strategy=strategy, max_steps=2, eval_split=0.0,
                      per_device_train_batch_size=2, max_samples=None)
    rec = q.wait(q.submit(cfg)["id"], timeout=600)
    assert rec["status"] == "completed", rec.get("error")
    assert rec["task"] == task
    logs = [e["message"] for e in read_all(rec["events_path"]) if e["kind"] == "log"]
    assert notice in logs
    if name == "sharegpt_tools.json":
        assert any("has no place for tool specs" in m for m in logs)
    losses = [e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e]
    assert losses and all(v == v for v in losses)


def test_plain_text_trains_from_the_command_line(tiny_model, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model_name: {tiny_model}\ndataset: {FORMATS / 'pretrain.txt'}\nmax_steps: 2\n"
                   "per_device_train_batch_size: 2\nmax_seq_length: 64\neval_split: 0\n")
    r = subprocess.run([sys.executable, "-m", "forge", "train", str(cfg)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "MODELFORGE_STANDBY_WORKER": "0"},
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Task detected from the columns: text" in r.stdout + r.stderr and "completed" in (r.stdout + r.stderr)
