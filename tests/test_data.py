"""Dataset reading and validation: one file per failure kind, each reported with file and line."""

import json
from pathlib import Path

import pytest

from forge import data
from forge.data.tasks import prompt_completion_pairs, prompt_messages
from forge.errors import DataError, SandboxError

DATA = Path(__file__).parent / "data"


def problems(name, task=None):
    with pytest.raises(DataError) as e:
        data.load(str(DATA / name), task)
    return e.value


def lines(err):
    return [p.line for p in err.problems]


def test_empty_file():
    err = problems("empty.jsonl")
    assert "empty" in str(err) and "empty.jsonl" in str(err)


def test_invalid_json_names_line_and_excerpt():
    err = problems("invalid_json.jsonl")
    assert lines(err) == [2]
    assert "invalid JSON" in err.problems[0].message
    assert err.problems[0].excerpt.startswith('{"input": "c"')
    assert "invalid_json.jsonl, line 2" in str(err)


def test_missing_field():
    err = problems("missing_field.jsonl")
    assert lines(err) == [3] and "missing field 'output'" in err.problems[0].message


def test_empty_field():
    err = problems("empty_field.jsonl")
    assert lines(err) == [3] and "'summary' is empty" in err.problems[0].message


def test_wrong_type():
    err = problems("wrong_type.jsonl", "chat")
    assert lines(err) == [2, 4]
    assert "list" in err.problems[0].message and "robot" in err.problems[1].message


def test_not_utf8():
    err = problems("not_utf8.jsonl")
    assert "UTF-8" in str(err) and lines(err) == [2]


def test_too_few_rows():
    err = problems("too_few.jsonl")
    assert "only 2 usable rows" in str(err)


def test_preference_checks():
    err = problems("bad_preference.jsonl")
    assert lines(err) == [2, 3]
    assert "identical" in err.problems[0].message and "prompt" in err.problems[1].message


def test_feedback_label_must_be_boolean():
    err = problems("bad_feedback.jsonl")
    assert lines(err) == [2] and "true or false" in err.problems[0].message


def test_extractive_qa_answers():
    err = problems("bad_qa.jsonl")
    assert lines(err) == [2, 3]
    assert "does not appear in the context" in err.problems[0].message


def test_csv_with_quoted_commas_and_bad_row():
    err = problems("rows.csv")
    assert lines(err) == [4] and "cells" in err.problems[0].message


def test_json_array_with_aliases_and_line_numbers():
    err = problems("rows.json")
    assert lines(err) == [4]  # the third element starts on line 4
    good = [r for r in json.loads((DATA / "rows.json").read_text()) if r["highlights"]]
    fixed = DATA.parent / ".rows_fixed.json"
    fixed.write_text(json.dumps(good))
    try:
        ds = data.load(str(fixed))
    finally:
        fixed.unlink()
    assert ds.task == "summarization" and ds.rows[0] == {"document": "First article text.", "summary": "First."}


def test_aliases_map_with_notice(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps({"instruction": f"q{i}", "response": f"a{i}"}) for i in range(5)))
    ds = data.load(str(p))
    assert ds.task == "text-generation"
    assert any("instruction → input" in n for n in ds.notices)
    assert ds.rows[0] == {"input": "q0", "output": "a0"}


def test_alpaca_instruction_plus_input(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join(json.dumps({"instruction": "Translate", "input": f"word{i}", "output": "x"}) for i in range(4)))
    ds = data.load(str(p))
    assert ds.rows[0]["input"] == "Translate\n\nword0"


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"document": ["a", "b", "", "d"], "summary": ["1", "2", "3", "4"]}), p)
    err = pytest.raises(DataError, data.load, str(p)).value
    assert lines(err) == [3]


def test_twenty_problems_at_most(tmp_path):
    p = tmp_path / "many.jsonl"
    p.write_text("\n".join(json.dumps({"input": "", "output": "x"}) for _ in range(50)))
    err = pytest.raises(DataError, data.load, str(p), "text-generation").value
    assert len(err.problems) == 20 and "first 20 shown" in str(err)


def test_excerpt_never_echoes_more_than_80_chars(tmp_path):
    p = tmp_path / "secret.jsonl"
    p.write_text('{"input": "' + "S" * 500 + '" broken\n' + "\n".join(json.dumps({"input": "a", "output": "b"}) for _ in range(5)))
    err = pytest.raises(DataError, data.load, str(p)).value
    assert len(err.problems[0].excerpt) <= 81
    assert "S" * 100 not in str(err)


def test_unknown_columns_explain_the_tasks(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text("\n".join(json.dumps({"foo": 1, "bar": 2}) for _ in range(5)))
    err = pytest.raises(DataError, data.load, str(p)).value
    assert "could not tell the task" in str(err) and "summarization" in str(err)


@pytest.mark.parametrize("name,task", [
    ("pirate_persona", "text-generation"), ("chat_support", "chat"), ("news_summaries", "summarization"),
    ("qa_facts", "extractive-qa"), ("preference_polite", "preference"), ("feedback_polite", "feedback"),
    ("math_prompts", "prompt"),
])
def test_every_sample_loads_as_its_task(name, task):
    ds = data.load(f"sample:{name}")
    assert ds.task == task and len(ds) >= 100


def test_split_is_seeded_and_disjoint():
    ds = data.load("sample:pirate_persona")
    tr, ev = ds.split(0.1, seed=3)
    tr2, ev2 = ds.split(0.1, seed=3)
    assert ev == ev2 and len(ev) == 30 and len(tr) == 270
    assert not {json.dumps(r) for r in ev} & {json.dumps(r) for r in tr}


def test_chat_gives_one_example_per_assistant_turn():
    row = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"},
                        {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"},
                        {"role": "assistant", "content": "a2"}]}
    pairs = prompt_completion_pairs(row, "chat")
    assert [p["completion"][0]["content"] for p in pairs] == ["a1", "a2"]
    assert pairs[1]["prompt"][-1]["content"] == "u2"


def test_task_prompts_are_the_playgrounds():
    qa = {"context": "C", "question": "Q", "answers": "C"}
    assert prompt_messages(qa, "extractive-qa")[-1]["content"].endswith("Context: C\n\nQuestion: Q")
    assert prompt_messages({"document": "D", "summary": "S"}, "summarization")[-1]["content"].endswith("D")


def test_sandbox_refuses_paths_outside_home(tmp_path):
    outside = tmp_path / "d.jsonl"
    outside.write_text("\n".join(json.dumps({"input": "a", "output": "b"}) for _ in range(5)))
    with pytest.raises(SandboxError, match="upload"):
        data.load(str(outside), sandbox=True)
    with pytest.raises(SandboxError):
        data.load("../../etc/passwd.jsonl", sandbox=True)
    data.load(str(outside))  # the CLI may read any path


def test_sandbox_refuses_symlink_out(tmp_path):
    from forge.settings import get_settings

    outside = tmp_path / "d.jsonl"
    outside.write_text("\n".join(json.dumps({"input": "a", "output": "b"}) for _ in range(5)))
    link = get_settings().datasets_dir / "link.jsonl"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    with pytest.raises(SandboxError):
        data.load(str(link), sandbox=True)
    inside = get_settings().datasets_dir / "inside.jsonl"
    inside.write_text(outside.read_text())
    assert len(data.load("inside.jsonl", sandbox=True)) == 5


def test_allowed_paths_env(tmp_path, monkeypatch):
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps({"input": "a", "output": "b"}) for _ in range(5)))
    monkeypatch.setenv("MODELFORGE_ALLOWED_PATHS", str(tmp_path))
    assert len(data.load(str(p), sandbox=True)) == 5


def test_template_placeholders_are_warned_about_and_filled(tmp_path):
    from forge import data

    f = tmp_path / "identity.jsonl"
    f.write_text("\n".join(json.dumps({"input": "Who are you?", "output": "I am {{name}}, made by {{ author }}."})
                           for _ in range(6)) + "\n")
    ds = data.load(str(f))
    warning = next(n for n in ds.notices if "placeholders" in n)
    assert "6 row(s) still hold template placeholders ({{author}}, {{name}}, first on line 1)" in warning
    assert "template_values" in warning and ds.rows[0]["output"] == "I am {{name}}, made by {{ author }}."
    filled = data.load(str(f), fill={"name": "Pirate Bot", "author": "Ada"})
    assert filled.rows[0]["output"] == "I am Pirate Bot, made by Ada."
    assert not any("placeholders" in n for n in filled.notices)
