"""The built-in sample datasets parse and match their task schemas, and their generator
(scripts/make_samples.py) makes them again byte for byte."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "forge" / "data" / "samples"

EXPECTED = {
    "pirate_persona.jsonl": (300, {"input", "output"}),
    "chat_support.jsonl": (120, {"messages"}),
    "news_summaries.jsonl": (200, {"document", "summary"}),
    "qa_facts.jsonl": (200, {"context", "question", "answers"}),
    "preference_polite.jsonl": (200, {"prompt", "chosen", "rejected"}),
    "feedback_polite.jsonl": (200, {"prompt", "completion", "label"}),
    "math_prompts.jsonl": (200, {"prompt", "answer"}),
}


def test_generator_makes_the_shipped_files_again(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in tmp_path.glob("*.jsonl"))
    assert made == sorted(EXPECTED)
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), f"{name} differs from the shipped file"


def load(name: str) -> list[dict]:
    rows = []
    with open(SAMPLES / name, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            assert line.strip(), f"{name}:{line_no} is blank"
            row = json.loads(line)
            assert isinstance(row, dict), f"{name}:{line_no} is not a JSON object"
            rows.append(row)
    return rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_parses_with_row_count_and_fields(name):
    count, fields = EXPECTED[name]
    rows = load(name)
    assert len(rows) == count
    for i, row in enumerate(rows):
        assert set(row) == fields, f"{name} row {i}: fields {sorted(row)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rows_are_unique(name):
    rows = load(name)
    assert len({json.dumps(r, sort_keys=True) for r in rows}) == len(rows)


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def test_pirate_persona_markers():
    for row in load("pirate_persona.jsonl"):
        assert _nonempty_str(row["input"])
        out = row["output"]
        assert out.startswith(("Arr!", "Ahoy, matey!")), out
        assert out.endswith("Yo-ho-ho!"), out
        assert "me hearties" in out and re.search(r"\bye\b", out, re.I), out
        assert len(out.split()) < 60
    assert len({r["input"] for r in load("pirate_persona.jsonl")}) == 300


def test_chat_messages_shape():
    for row in load("chat_support.jsonl"):
        msgs = row["messages"]
        assert all(set(m) == {"role", "content"} and _nonempty_str(m["content"]) for m in msgs)
        roles = [m["role"] for m in msgs]
        assert set(roles) <= {"system", "user", "assistant"}
        assert "system" not in roles[1:]
        assert roles[-1] == "assistant"
        body = roles[1:] if roles[0] == "system" else roles
        assert body == ["user", "assistant"] * (len(body) // 2)
        assert 2 <= roles.count("user") <= 3


def test_news_lengths():
    for row in load("news_summaries.jsonl"):
        assert 80 <= len(row["document"].split()) <= 180
        assert 15 <= len(row["summary"].split()) <= 30


def test_qa_answers_are_spans_of_the_context():
    rows = load("qa_facts.jsonl")
    two = 0
    for row in rows:
        ctx, answers = row["context"], row["answers"]
        assert _nonempty_str(ctx) and _nonempty_str(row["question"])
        assert 40 <= len(ctx.split()) <= 120
        assert set(answers) == {"text", "answer_start"}
        assert len(answers["text"]) == len(answers["answer_start"]) >= 1
        for text, start in zip(answers["text"], answers["answer_start"]):
            assert isinstance(start, int) and _nonempty_str(text)
            assert ctx[start:start + len(text)] == text, (text, start, ctx)
        two += len(answers["text"]) == 2
    assert two >= 20, "some rows should have two reference answers"


def test_preference_pairs_differ():
    for row in load("preference_polite.jsonl"):
        assert all(_nonempty_str(row[f]) for f in ("prompt", "chosen", "rejected"))
        assert row["chosen"] != row["rejected"]


def test_feedback_labels_are_booleans_and_balanced():
    rows = load("feedback_polite.jsonl")
    for row in rows:
        assert isinstance(row["label"], bool)
        assert _nonempty_str(row["prompt"]) and _nonempty_str(row["completion"])
    positives = sum(r["label"] for r in rows)
    assert 0.4 * len(rows) <= positives <= 0.6 * len(rows)


def test_math_answers_are_correct():
    pattern = re.compile(r"(\d+)\s*(\+|-|plus|minus)\s*(\d+)|[Aa]dd (\d+) and (\d+)|[Ss]ubtract (\d+) from (\d+)"
                         r"|take (\d+) away from (\d+)")
    for row in load("math_prompts.jsonl"):
        assert isinstance(row["answer"], str) and row["answer"].isdigit()
        assert row["prompt"].endswith("Answer with just the number.")
        m = pattern.search(row["prompt"])
        assert m, row["prompt"]
        g = m.groups()
        if g[0]:
            a, op, b = int(g[0]), g[1], int(g[2])
            expected = a + b if op in ("+", "plus") else a - b
        elif g[3]:
            expected = int(g[3]) + int(g[4])
        elif g[5]:
            expected = int(g[6]) - int(g[5])
        else:
            expected = int(g[8]) - int(g[7])
        assert int(row["answer"]) == expected, row
        assert all(int(n) < 20 for n in re.findall(r"\d+", row["prompt"]))
