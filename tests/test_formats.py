"""Datasets in the formats people bring, taken as they are: ShareGPT conversations (with a system
column, and with tool calls and a tools column), ShareGPT and OpenAI-style preference pairs, KTO
rows of messages plus a boolean label, OpenAI chat files, and plain text for continued
pre-training (a ``text`` column, or a .txt file of passages). The fixtures in tests/data/formats
follow each format's published description (LLaMA-Factory's data/README, OpenAI's fine-tuning
guide); each is detected and mapped with a notice, and every one of them trains two steps of the tiny
model (through the queue, two of them from the command line).

Datasets as people have them also come with other column names (mapped by the run's ``columns``)
and in folders described by a LLaMA-Factory ``dataset_info.json`` (tests/data/formats/llamafactory:
an alpaca dataset with query and history, a sharegpt one with its own tags, a ranking one, a KTO one),
referenced as ``FOLDER:NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forge import data
from forge.errors import DataError
from forge.training import read_all
from forge.ui.form import mapping_from
from forge.ui.inputs import validate_dataset

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


# ---- column mapping (RunConfig.columns) ------------------------------------------------------

ODD = [{"Frage": f"What is {w}?", "Antwort": a, "Rolle": "You are a ship's mate."}
       for w, a in (("the tide", "It rises and falls twice a day."), ("a compass", "It points north."),
                    ("a knot", "One nautical mile per hour."), ("the mast", "It holds up the sails."),
                    ("a galley", "The ship's kitchen."), ("the helm", "It steers the ship."))]


@pytest.fixture
def odd_file(tmp_path) -> Path:
    f = tmp_path / "odd.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in ODD))
    return f


def test_a_mapping_makes_odd_columns_a_dataset(odd_file):
    with pytest.raises(DataError) as e:
        data.load(str(odd_file))
    assert "could not tell the task" in e.value.message and "columns: {prompt: Frage" in e.value.hint
    ds = data.load(str(odd_file), columns={"prompt": "Frage", "completion": "Antwort", "system": "Rolle"})
    assert ds.task == "text-generation" and len(ds) == 6 and ds.columns == ["Frage", "Antwort", "Rolle"]
    assert "Columns mapped by the config's columns: Frage → prompt, Antwort → response, Rolle → system" in ds.notices
    row = ds.rows[0]
    assert row["input"] == "What is the tide?" and row["output"].startswith("It rises") and row["system"]


def test_a_mapping_naming_a_missing_column_names_the_field_and_the_columns(odd_file):
    with pytest.raises(DataError) as e:
        data.load(str(odd_file), columns={"prompt": "Question", "response": "Antwort"})
    assert "columns.prompt: the file has no column 'Question'" in e.value.message
    assert "Its columns: Frage, Antwort, Rolle" in e.value.message
    assert odd_file.is_file()  # nothing is lost


def test_columns_in_the_config_are_checked_and_round_trip():
    from forge.config import RunConfig, parse_config
    from forge.errors import ConfigError

    cfg = parse_config({"columns": {"prompt": "Frage", "completion": "Antwort", "kto_tag": "ok", "system": ""}})
    assert cfg.columns == {"prompt": "Frage", "response": "Antwort", "label": "ok"}
    assert RunConfig(**cfg.to_dict()).columns == cfg.columns and "columns:\n  prompt: Frage" in cfg.to_yaml()
    with pytest.raises(ConfigError) as e:
        parse_config({"columns": {"promt": "Frage"}})
    assert "columns: 'promt' is not a role" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config({"columns": ["Frage"]})
    assert "columns:" in str(e.value) and "mapping of role to column name" in str(e.value)


def test_message_tags_map_a_conversation_with_its_own_keys(tmp_path):
    rows = [{"turns": [{"who": "asker", "say": f"Question {i}?"}, {"who": "helper", "say": f"Answer {i}."}]}
            for i in range(5)]
    f = tmp_path / "tags.json"
    f.write_text(json.dumps(rows))
    ds = data.load(str(f), columns={"messages": "turns", "role_tag": "who", "content_tag": "say",
                                    "user_tag": "asker", "assistant_tag": "helper"})
    assert ds.task == "chat" and ds.rows[0]["messages"] == [{"role": "user", "content": "Question 0?"},
                                                            {"role": "assistant", "content": "Answer 0."}]


def test_cli_set_fills_one_key_of_a_mapping():
    from forge.cli import _settings

    assert _settings(["columns.prompt=Frage", "columns.response=Antwort", "max_steps=2"]) == {
        "columns": {"prompt": "Frage", "response": "Antwort"}, "max_steps": 2}


# ---- LLaMA-Factory's dataset_info.json ---------------------------------------------------------

LF = FORMATS / "llamafactory"


@pytest.mark.parametrize("name,task", [("alpaca_history", "chat"), ("sharegpt_tags", "chat"),
                                       ("ranking", "preference"), ("kto", "feedback")])
def test_dataset_info_entries_load_by_name(name, task):
    ds = data.load(f"{LF}:{name}")
    assert ds.task == task and len(ds) == 8
    assert any(n.startswith("Columns mapped by dataset_info.json") for n in ds.notices)
    row = ds.rows[1]
    if name == "alpaca_history":  # the query joins the prompt; the history turns come before it
        assert row["messages"][-2]["content"] == "Explain a compass.\n\nAnswer in one sentence."
        first = ds.rows[0]["messages"]
        assert [m["role"] for m in first] == ["system", "user", "assistant", "user", "assistant"]
        assert first[1]["content"] == "Are you the mate?"
    if name == "sharegpt_tags":
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    if name == "ranking":
        assert row["chosen"] == "It points to magnetic north." and row["rejected"].startswith("No idea")
    if name == "kto":
        assert row["label"] is False and row["completion"] == "Whatever."


def _info_folder(tmp_path, entry: dict) -> Path:
    import shutil

    folder = tmp_path / "lf"
    shutil.copytree(LF, folder)
    info = json.loads((folder / "dataset_info.json").read_text())
    info["broken"] = entry
    (folder / "dataset_info.json").write_text(json.dumps(info))
    return folder


@pytest.mark.parametrize("entry,words", [
    ({"file_name": "missing.json"}, "file_name 'missing.json' does not exist"),
    ({"file_name": "ranking.jsonl", "formatting": "openai"}, "formatting is 'openai'"),
    ({"file_name": "ranking.jsonl", "ranking": True, "columns": {"prompt": "question", "chosen": "best"}},
     "columns.chosen: 'best' not in ranking.jsonl"),
    ({"file_name": "kto.jsonl", "formatting": "sharegpt", "columns": {"kto_tag": "thumbs"}},
     "columns.kto_tag: 'thumbs' not in kto.jsonl"),
    ({"file_name": "ranking.jsonl", "columns": {"answer": "good"}}, "columns.answer is not a known key"),
    ({"file_name": "../outside.json"}, "lies outside the folder"),
], ids=["missing-file", "unknown-formatting", "missing-column", "missing-kto-tag", "unknown-key", "outside"])
def test_bad_dataset_info_entries_name_the_file_the_dataset_and_the_key(tmp_path, entry, words):
    folder = _info_folder(tmp_path, entry)
    with pytest.raises(DataError) as e:
        data.load(f"{folder}:broken")
    text = str(e.value)
    assert "dataset_info.json" in text and "'broken'" in text and words in text, text


def test_a_dataset_info_folder_offers_its_datasets_by_name(tmp_path):
    from forge.data import dataset_info

    assert dataset_info.names(LF) == ["alpaca_history", "sharegpt_tags", "ranking", "kto"]
    with pytest.raises(DataError) as e:
        data.load(str(LF))
    assert "name the one to use" in e.value.message and f"{LF}:ranking" in e.value.hint
    with pytest.raises(DataError) as e:
        data.load(f"{LF}:nope")
    assert "has no dataset 'nope'" in e.value.message and "alpaca_history" in e.value.hint
    # the config's own columns win over the entry's
    ds = data.load(f"{LF}:ranking", columns={"chosen": "bad", "rejected": "good"})
    assert ds.rows[0]["chosen"].startswith("No idea")


def test_the_page_validates_with_a_mapping_and_previews_through_the_chat_template(tiny_model, odd_file):
    import shutil

    from forge.settings import get_settings

    dest = get_settings().datasets_dir / "odd-mapped.jsonl"
    shutil.copy(odd_file, dest)
    bad = validate_dataset(str(dest), None, "odd.jsonl")
    assert not bad["ok"] and bad["columns"] == ["Frage", "Antwort", "Rolle"]  # offered for the mapping
    ok = validate_dataset(str(dest), None, "odd.jsonl", columns={"prompt": "Frage", "response": "Antwort"},
                                model=str(tiny_model))
    assert ok["ok"] and ok["task"] == "text-generation" and ok["templated"]
    first = ok["preview"][0]
    assert "<|im_start|>user\nWhat is the tide?<|im_end|>" in first["prompt"]
    assert first["prompt"].endswith("<|im_start|>assistant\n")
    assert first["answer"].startswith("It rises and falls twice a day.<|im_end|>")
    by_name = validate_dataset(str(dest), None, "odd.jsonl", columns={"prompt": "Frage", "response": "Antwort"},
                                     model=tiny_model.name)  # a folder of models/, by its name
    assert by_name["templated"] and by_name["preview"] == ok["preview"]
    assert mapping_from({"role_tag": "who"}, {"prompt": "Frage", "response": ""}) == {
        "role_tag": "who", "prompt": "Frage"}


# ---- every fixture trains: through the queue, and from the command line ---------------------------

def _strategy(task: str) -> str:
    return {"preference": "dpo", "feedback": "kto"}.get(task, "sft")


TRAIN_CASES = [(n, t, {}) for n, t, _, _ in CASES] + [
    (f"llamafactory:{n}", t, {}) for n, t in (("alpaca_history", "chat"), ("sharegpt_tags", "chat"),
                                              ("ranking", "preference"), ("kto", "feedback"))] + [
    ("odd_columns.jsonl", "text-generation", {"columns.prompt": "Frage", "columns.response": "Antwort",
                                              "columns.system": "Rolle"})]
# these go through ``forge train`` (its YAML and --set, a worker process of its own); the rest
# through the queue the page and the API use (a worker forked by its standby)
FROM_THE_COMMAND_LINE = ("sharegpt.json", "odd_columns.jsonl")
RUN = dict(max_steps=2, per_device_train_batch_size=2, max_seq_length=128, eval_split=0, lora_r=4, eval_samples=0)


def _through_the_command_line(tiny_model, tmp_path, capsys, name: str, settings: dict) -> dict:
    from forge import cli
    from forge.runs import get_store

    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model_name: {tiny_model}\ndataset: {FORMATS / name}\n"
                   + "".join(f"{k}: {v}\n" for k, v in RUN.items()))
    code = cli.main(["train", str(cfg)] + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")])
    out = capsys.readouterr()
    assert code == 0, out.err[-2000:] + out.out[-2000:]
    assert "Completed." in out.out
    return get_store().list_runs()[0]


def _through_the_queue(tiny_model, name: str, settings: dict) -> dict:
    from forge.training import get_queue

    columns = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("columns.")}
    config = {**RUN, "model_name": str(tiny_model), "dataset": str(FORMATS / name),
              **{k: v for k, v in settings.items() if not k.startswith("columns.")},
              **({"columns": columns} if columns else {})}
    q = get_queue()
    return q.wait(q.submit(config)["id"], timeout=600)


@pytest.mark.parametrize("name,task,extra", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_every_format_fixture_trains(tiny_model, tmp_path, capsys, name, task, extra):
    settings = {"strategy": _strategy(task), **extra}
    rec = (_through_the_command_line(tiny_model, tmp_path, capsys, name, settings) if name in FROM_THE_COMMAND_LINE
           else _through_the_queue(tiny_model, name, settings))
    assert rec["status"] == "completed" and rec["task"] == task, rec.get("error")
    logs = [e["message"] for e in read_all(rec["events_path"]) if e["kind"] == "log"]
    if name == "sharegpt_tools.json":
        assert any("has no place for tool specs" in m for m in logs)
    if extra:
        assert any(m.startswith("Columns mapped by the config's columns: Frage → prompt") for m in logs)
    losses = [e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e]
    assert losses and all(v == v for v in losses)


def test_the_page_reads_a_dataset_info_folder_in_its_datasets_folder():
    import shutil

    from forge.settings import get_settings

    shutil.copytree(LF, get_settings().datasets_dir / "lf-page", dirs_exist_ok=True)
    ok = validate_dataset("lf-page:ranking")
    assert ok["ok"] and ok["task"] == "preference" and ok["rows"] == 8
    listed = validate_dataset("lf-page")
    assert not listed["ok"] and "lf-page:sharegpt_tags" in listed["error"]
    outside = validate_dataset(f"{LF}:ranking")  # a folder the server may not read
    assert not outside["ok"] and "outside the folders this server may read" in outside["error"]
