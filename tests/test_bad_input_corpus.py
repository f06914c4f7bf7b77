"""A corpus of more than 100 bad inputs (settings, dataset files, references, names, API payloads,
command lines) sent through the clients people use: gradio_client against the launched app, and
the ``python -m forge`` command line. For every one: no traceback, no generic "Something went
wrong", the field, file line or thing at fault named, the server still answering, no run record
made for a refused run, and nothing written outside the home and the temporary folders.

(A full disk and a read-only home are in test_workers.py and test_bad_input.py: they need a
filesystem of their own.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from test_bad_input import BAD_CONFIGS
from ui_server import running_app

ROOT = Path(__file__).resolve().parents[1]

# settings sent to /train: each is refused before a run record exists, naming the field
MORE_CONFIGS = [
    ({"strategy": "ppo"}, "unknown strategy 'ppo'"),
    ({"task": "weird"}, "task:"),
    ({"learning_rate": -1}, "learning_rate:"),
    ({"learning_rate": "fast"}, "learning_rate:"),
    ({"learning_rate": 5}, "learning_rate:"),
    ({"per_device_train_batch_size": 0}, "per_device_train_batch_size:"),
    ({"max_seq_length": 1}, "max_seq_length:"),
    ({"max_seq_length": "long"}, "max_seq_length:"),
    ({"lora_r": -1}, "lora_r:"),
    ({"lora_alpha": 0}, "lora_alpha:"),
    ({"lora_dropout": 1.0}, "lora_dropout:"),
    ({"target_modules": [1, 2]}, "target_modules:"),
    ({"num_train_epochs": 0}, "num_train_epochs:"),
    ({"warmup_ratio": 2}, "warmup_ratio:"),
    ({"weight_decay": -1}, "weight_decay:"),
    ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps:"),
    ({"lr_scheduler_type": "zigzag"}, "lr_scheduler_type:"),
    ({"save_total_limit": 0}, "save_total_limit:"),
    ({"eval_samples": -1}, "eval_samples:"),
    ({"eval_max_new_tokens": 0}, "eval_max_new_tokens:"),
    ({"eval_budget": 0}, "eval_budget:"),
    ({"eval_max_rows": 0}, "eval_max_rows:"),
    ({"use_4bit": True, "use_8bit": True}, "use_4bit"),
    ({"max_samples": 0}, "max_samples:"),
    ({"provider": "magic"}, "provider:"),
    ({"seed": -1}, "seed:"),
    ({"logging_steps": 0}, "logging_steps:"),
    ({"no_such_setting": 1}, "no_such_setting: unknown setting"),
    ({"num_processes": 64}, "num_processes: 64 processes were asked for"),
    ({"dataset": "/etc/passwd"}, "outside the folders"),
    ({"dataset": "../../../etc/passwd"}, "outside the folders"),
    ({"model_name": "/etc"}, "model path '/etc' is outside"),
    ({"reward_funcs": "everything"}, "reward_funcs:"),
]
NOT_MAPPINGS = [([1, 2], "config must be a JSON object"), ("hello", "config is not valid JSON"),
                ("[1, 2]", "config must be a JSON object"), ('{"max_steps": ', "config is not valid JSON")]


L1, L2 = '"line": 1', '"line": 2'  # the problem's line, as the API answers it


def dataset_files(d: Path) -> list[tuple[str, str, str, str]]:
    """(file name, content, task, words the answer must hold)."""
    ok = json.dumps({"input": "a", "output": "b"})
    deep = '{"input": ' + "[" * 100_000 + "]" * 100_000 + ', "output": "x"}'
    return [
        ("broken.jsonl", ok + '\n{"input": "no end"\n', "", L2),
        ("empty.jsonl", "", "", "empty"),
        ("blank-lines.jsonl", "\n\n\n", "", "empty"),
        ("no-output.jsonl", ok + "\n" + json.dumps({"input": "only"}) + "\n", "", L2),
        ("a-list.jsonl", ok + "\n[1, 2, 3]\n", "", L2),
        ("a-number.jsonl", ok + "\n42\n", "", L2),
        ("deep.jsonl", ok + "\n" + deep + "\n", "", L2),
        ("empty-input.jsonl", ok + "\n" + json.dumps({"input": "", "output": "x"}) + "\n", "", L2),
        ("null-output.jsonl", ok + "\n" + json.dumps({"input": "x", "output": None}) + "\n", "", L2),
        ("unknown-columns.jsonl", json.dumps({"foo": "a", "bar": "b"}) + "\n", "", "foo"),
        ("binary.jsonl", "\x00\x01\x02\xff" * 50, "", L1),
        ("header-only.csv", "instruction,response\n", "", "no rows"),
        ("wrong-columns.csv", "foo,bar\n1,2\n", "", "foo"),
        ("array.json", '[{"input": "a", "output": "b"}, {"input": "c"', "", "JSON"),
        ("object.json", '{"input": "a", "output": "b"}', "", "array"),
        ("program.exe", "MZ\x90\x00", "", "formats"),
        ("pairs-missing-rejected.jsonl", json.dumps({"prompt": "p", "chosen": "c"}) + "\n", "preference", "rejected"),
        ("instructions-as-preference.jsonl", ok + "\n", "preference", "preference"),
        ("number-output.jsonl", ok + "\n" + json.dumps({"input": "x", "output": {"a": 1}}) + "\n", "", L2),
        ("utf16.jsonl", "", "", "UTF-8"),
    ]


DATASET_REFS = [
    ("/etc/passwd", "outside the folders"), ("../../../../etc/passwd", "outside the folders"),
    ("sample:nope", "nope"), ("no-such-file.jsonl", "no-such-file.jsonl"), ("d" * 5000, "1000 characters"),
    ("~/.ssh/id_rsa", "outside the folders"),
]


def no_trace(text: str) -> list[str]:
    bad = [w for w in ("Traceback", "Something went wrong") if w in text]
    return bad


def call(client: Client, *args, api_name: str) -> str:
    """What the client gets back, as text: the answer or the error it raised."""
    try:
        return json.dumps(client.predict(*args, api_name=api_name), default=str)
    except AppError as e:
        return f"AppError: {e}"


def snapshot() -> set[str]:
    """Entries of the repository and the temporary folder (what a request must not add to)."""
    tmp = Path(tempfile.gettempdir())
    return {f"repo:{p.name}" for p in ROOT.iterdir()} | {f"tmp:{p.name}" for p in tmp.iterdir()}


ALLOWED_TMP = ("gradio", "modelforge-configs", "modelforge-exports", "pytest-", "forge-test-", "tmp",
               # the browser that the other test process may be driving meanwhile (neither the
               # server nor the command line under test starts one)
               "org.chromium.", "playwright", ".org.chromium.")


@pytest.fixture(scope="module")
def client(tiny_model, trained_adapter):
    with running_app() as url:
        yield Client(url, verbose=False), url


def test_more_than_100_bad_inputs_are_each_refused_plainly(client, tmp_path, home, trained_adapter):  # noqa: C901 — one loop over the whole corpus, one check per way in
    from forge.runs import get_store
    from test_models_playground import copy_model

    c, url = client
    before_files = snapshot()
    runs_before = len(get_store().list_runs())
    failures: list[str] = []
    count = 0

    def expect(what: str, text: str, words: str) -> None:
        nonlocal count
        count += 1
        problems = no_trace(text)
        if words.lower() not in text.lower():
            problems.append(f"does not say {words!r}")
        if problems:
            failures.append(f"{what}: {', '.join(problems)} — got {text[:300]}")

    # 1. settings through /train (47 + 4)
    import math

    sendable = [(cfg, w) for cfg, w in BAD_CONFIGS + MORE_CONFIGS  # JSON has no NaN: the CLI sends those below
                if not any(isinstance(v, float) and not math.isfinite(v) for v in cfg.values())]
    for cfg, words in sendable:
        shown = {k: (v if len(str(v)) < 60 else f"{str(v)[:20]}...") for k, v in cfg.items()}
        expect(f"/train {shown}", call(c, cfg, None, api_name="/train"), words.split(" Input should")[0])
        if len(get_store().list_runs()) != runs_before:
            failures.append(f"/train {shown}: a run record was made")
            runs_before = len(get_store().list_runs())
    for cfg, words in NOT_MAPPINGS:
        expect(f"/train {cfg!r}", call(c, cfg, None, api_name="/train"), words)
    assert len(get_store().list_runs()) == runs_before, "a refused run left a record"

    # 2. dataset files through /validate_dataset (20) and references (6)
    for name, content, task, words in dataset_files(tmp_path):
        path = tmp_path / name
        if name == "utf16.jsonl":
            path.write_bytes(json.dumps({"input": "a", "output": "b"}).encode("utf-16"))
        else:
            path.write_text(content, encoding="utf-8", errors="surrogateescape")
        expect(f"/validate_dataset {name}", call(c, "", task, handle_file(str(path)), api_name="/validate_dataset"),
               words)
    for ref, words in DATASET_REFS:
        expect(f"/validate_dataset {ref[:40]}", call(c, ref, "", None, api_name="/validate_dataset"), words)

    # 3. names through /rename_model (10)
    model = copy_model(trained_adapter, "corpus-model")
    other = copy_model(trained_adapter, "corpus-other")
    for name, words in [("HuggingFaceTB/SmolLM2-135M-Instruct", "base model"), ("someone/some-model", "/"),
                        ("", "name"), ("   ", "name"), ("n" * 500, "characters"), ("corpus-other", "corpus-other"),
                        ("embedded", "embedded"), ("a/b/c", "/"), ("line\nbreak", "line"),
                        (other["id"], other["id"])]:
        expect(f"/rename_model {name[:30]!r}", call(c, model["id"], name, api_name="/rename_model"), words)

    # 4. other API payloads (22)
    nope = "no-such-thing"
    for api, args, words in [
        ("/run", (nope,), nope), ("/stop", (nope, False), nope), ("/resume", (nope, None, None), nope),
        ("/delete_run", (nope,), nope), ("/delete_dataset", ("../runs.json",), "../runs.json"),
        ("/delete_dataset", ("nope.jsonl",), "nope.jsonl"), ("/model", (nope,), nope),
        ("/delete_model", (nope,), nope), ("/merge", (nope, ""), nope), ("/load_model", ("nobody/no-model",), "offline"),
        ("/load_model", ("/etc",), "outside"), ("/generate", (nope, "hi"), nope),
        ("/generate", (model["id"], "hi", None, {"temperature": -1}), "temperature"),
        ("/generate", (model["id"], "hi", None, {"max_new_tokens": 10**9}), "max_new_tokens"),
        ("/generate", (model["id"], "hi", None, {"top_p": "high"}), "top_p"),
        ("/generate", (model["id"], "", None, None, "nonsense-mode"), "mode"),
        ("/evaluate", (model["id"], "/etc/passwd"), "outside"), ("/evaluate", (nope, "sample:qa_facts"), nope),
        ("/follow", (nope,), nope), ("/compare", (nope, "hi"), nope),
        ("/resume", (nope, -5, None), nope), ("/export", (nope,), nope),
    ]:
        expect(f"{api} {str(args)[:60]}", call(c, *args, api_name=api), words)
    with urllib.request.urlopen(url, timeout=10) as r:  # the server is still up
        assert r.status == 200

    # 5. command lines (15), in a subprocess each
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("max_steps: [1, 2\n")
    a_list = tmp_path / "list.yaml"
    a_list.write_text("- 1\n- 2\n")
    good = tmp_path / "good.yaml"
    good.write_text("max_steps: 3\n")
    for argv, words in [
        (["train", str(tmp_path / "missing.yaml")], "missing.yaml"),
        (["train", str(bad_yaml)], "bad.yaml"),
        (["train", str(a_list)], "must be a mapping"),
        (["train", str(good), "--set", "max_steps"], "write it as KEY=VALUE"),
        (["train", str(good), "--set", "lora_r=abc"], "lora_r"),
        (["train", str(good), "--set", "strategy=ppo"], "unknown strategy 'ppo'"),
        (["train", str(good), "--num-processes", "0"], "num_processes"),
        (["train", str(good), "--accelerate-config", str(tmp_path / "none.yaml")], "none.yaml"),
        (["train", str(good), "--set", "learning_rate=nan"], "learning_rate"),
        (["show", nope], nope), (["stop", nope], nope), (["resume", nope], nope),
        (["delete-run", nope], nope), (["delete-dataset", "../runs.json"], "../runs.json"),
        (["train", str(good), "--set", f"model_name={'m' * 5000}"], "model_name"),
    ]:
        r = subprocess.run([sys.executable, "-m", "forge", *argv], capture_output=True, text=True, cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
        text = r.stdout + r.stderr
        expect(f"forge {' '.join(a[:40] for a in argv)}", text + ("" if r.returncode else " (exit code 0)"), words)
        if r.returncode == 0:
            failures.append(f"forge {argv[:2]}: exit code 0")
    assert len(get_store().list_runs()) == runs_before, "a refused run left a record"

    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
    added = {e for e in snapshot() - before_files
             if not (e.startswith("tmp:") and e[4:].startswith(ALLOWED_TMP))}
    assert not added, f"written outside the home: {sorted(added)}"
    assert count >= 100, count
    assert not failures, f"{len(failures)} of {count} inputs:\n" + "\n".join(failures)
