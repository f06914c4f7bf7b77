"""Careless and hostile input: refused before any record, with the field named and a hint that
works; names that cannot take over a base model; a user's text shown as text; a read-only home
that is a message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forge.config import parse_config
from forge.errors import ConfigError
from forge.ui.run_view import RunView
from forge.ui.tables import md_code, md_text

ROOT = Path(__file__).resolve().parents[1]

BAD_CONFIGS = [
    ({"max_steps": 0}, "max_steps: 0 steps trains nothing"),
    ({"lora_r": True}, "lora_r: true is not a number"),
    ({"learning_rate": False}, "learning_rate: false is not a number"),
    ({"seed": 10**30}, "seed: Input should be less than or equal to 4294967295"),
    ({"learning_rate": float("nan")}, "learning_rate: Input should be a finite number"),
    ({"learning_rate": float("inf")}, "learning_rate: Input should be a finite number"),
    ({"model_name": "m" * 5000}, "model_name: String should have at most 1000 characters"),
    ({"dataset": "d" * 5000}, "dataset: String should have at most 1000 characters"),
    ({"target_modules": [f"layer_{i}" for i in range(16000)]}, "target_modules: at most 64 module names"),
    ({"target_modules": ["x" * 500]}, "target_modules: at most 64 module names of up to 100 characters"),
    ({"strategy": "s" * 500}, "strategy: String should have at most 40 characters"),
    ({"num_processes": 0}, "num_processes: Input should be greater than or equal to 1"),
    ({"distributed": "mpi"}, "distributed: Input should be 'ddp', 'fsdp', 'deepspeed_zero2' or 'deepspeed_zero3'"),
    ({"run_name": "r" * 101}, "run_name: String should have at most 100 characters"),
    ({"eval_split": 0.9}, "eval_split: Input should be less than or equal to 0.5"),
    ({"max_steps": -5}, "max_steps: Input should be greater than or equal to -1"),
]


@pytest.mark.parametrize("data,words", BAD_CONFIGS, ids=[w.split(":")[0] + str(i) for i, (_, w) in
                                                         enumerate(BAD_CONFIGS)])
def test_bad_settings_are_named(data, words):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert words in str(e.value), str(e.value)
    assert "`python -m forge config` prints every setting" in str(e.value)


def test_a_flood_of_unknown_keys_gives_a_short_message():
    with pytest.raises(ConfigError) as e:
        parse_config({f"key{i}": 1 for i in range(50_000)})
    text = str(e.value)
    assert len(text) < 1000 and "key0: unknown setting" in text and "and 49990 more problem(s)" in text


def forge(*args, env=None):
    return subprocess.run([sys.executable, "-m", "forge", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=120)


def test_the_cli_refuses_before_any_record(tmp_path):
    from forge.runs import get_store

    before = len(get_store().list_runs())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"strategy": "nope", "max_steps": 3}))
    r = forge("train", str(cfg))
    assert r.returncode == 2 and "unknown strategy 'nope'" in r.stderr and "Traceback" not in r.stderr
    r = forge("train", str(cfg), "--set", "max_steps")
    assert r.returncode == 2 and "--set max_steps: write it as KEY=VALUE" in r.stderr
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    r = forge("train", str(lst))
    assert r.returncode == 2 and "must be a mapping of setting names" in r.stderr
    cfg.write_text(yaml.safe_dump({"max_steps": 3}))
    r = forge("train", str(cfg), "--num-processes", "64")
    assert r.returncode == 2 and "num_processes: 64 processes were asked for" in r.stderr
    assert len(get_store().list_runs()) == before
    assert "sft" in forge("strategies").stdout  # the command the hints point at exists


def test_a_model_name_never_takes_a_base_model_id_or_another_models_name(tmp_path):
    from forge import models
    from forge.config import EMBEDDED_MODEL
    from forge.runs import RunStore

    store = RunStore(tmp_path / "runs.json")
    a = store.add_model({"name": "pirate", "kind": "adapter", "path": str(tmp_path / "a")})
    b = store.add_model({"name": "other", "kind": "adapter", "path": str(tmp_path / "b")})
    for bad, words in ((EMBEDDED_MODEL, "has the shape of a Hub id"), ("gpt2/x", "cannot contain '/'"),
                       ("PIRATE", "Another model is already called 'pirate'")):
        with pytest.raises(ConfigError) as e:
            models.rename(b["id"], bad, store)
        assert words in str(e.value), str(e.value)
    assert models.rename(a["id"], "Pirate", store)["name"] == "Pirate"  # its own name, new case
    assert models.free_name(EMBEDDED_MODEL, store) == "HuggingFaceTB-SmolLM2-135M-Instruct"
    assert models.free_name("other", store) == "other-2"


def test_a_users_text_is_shown_as_text():

    name = '<img src=x onerror=1><b>bold</b><a href="http://x">link</a> `tick` *star* [l](u)'
    text = md_text(name)
    assert "<" not in text and "&lt;img" in text and "\\`tick\\`" in text and "\\*star\\*" in text
    code = md_code("a `b` ``c``")
    assert code.startswith("```") and code.endswith("```") and "``c``" in code
    view = RunView(run_id="r1", name=name, status="running", what="<b>m</b> on d")
    md = view.status_markdown()
    assert "<b>" not in md.replace(md_code(name), "") and "&lt;b&gt;m&lt;/b&gt;" in md


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only filesystem needs root")
def test_a_read_only_home_is_a_message_not_a_traceback(tmp_path):
    home = tmp_path / "ro-home"
    home.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(home)]).returncode:
        pytest.skip("this machine cannot mount a filesystem")
    try:
        env = {"MODELFORGE_HOME": str(home)}
        assert forge("runs", env=env).returncode == 0  # creates the home's folders
        from forge.runs import RunStore

        RunStore(home / "runs.json").create_run({"name": "kept", "status": "completed"})
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
        listing = forge("runs", env=env)
        assert listing.returncode == 0 and "kept" in listing.stdout  # reading still works
        cfg = tmp_path / "c.yaml"
        cfg.write_text(yaml.safe_dump({"max_steps": 2}))
        r = forge("train", str(cfg), env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"The ModelForge home {home} cannot be written (Read-only file system)" in r.stderr
        assert "MODELFORGE_HOME" in r.stderr
        app = subprocess.run([sys.executable, "app.py", "--port", "1"], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, **env}, timeout=120)
        assert app.returncode != 0 and "Traceback" not in app.stderr
        assert "cannot be written (Read-only file system)" in app.stderr and "MODELFORGE_HOME" in app.stderr
    finally:
        subprocess.run(["umount", "-l", str(home)])


def test_a_row_nested_100000_deep_names_its_line(tmp_path):
    from forge import data
    from forge.errors import DataError

    path = tmp_path / "deep.jsonl"
    path.write_text('{"input": "a", "output": "b"}\n' * 5 + '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DataError) as e:
        data.load(str(path), "text-generation")
    assert "deep.jsonl, line 6" in str(e.value) and "nested too deeply" in str(e.value)
