import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def forge(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "forge", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def test_train_runs_show(tiny_config, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(max_steps=6, run_name="cli-run")))
    r = forge("train", str(cfg), "--set", "max_steps=5")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Completed. Model saved to" in r.stdout
    assert "5/5" in r.stdout  # the progress bar reached the end
    assert "Final: train_loss" in r.stdout
    listing = forge("runs")
    assert "cli-run" in listing.stdout and "completed" in listing.stdout
    run_id = next(l.split()[0] for l in listing.stdout.splitlines() if "cli-run" in l)
    shown = forge("show", run_id)
    assert shown.returncode == 0 and "final metrics" in shown.stdout and "max_steps: 5" in shown.stdout


def test_train_bad_config_exits_nonzero_with_plain_message(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("learning_rate: -1\nfoo: 3\n")
    r = forge("train", str(cfg))
    assert r.returncode == 2
    assert "learning_rate" in r.stderr and "foo: unknown setting" in r.stderr
    assert "Traceback" not in r.stderr


def test_train_bad_data_exits_nonzero(tiny_config, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"input": "x"}\n' * 5)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(dataset=str(data))))
    r = forge("train", str(cfg))
    assert r.returncode == 1 and "d.jsonl, line 1" in r.stderr and "Traceback" not in r.stderr


def test_show_unknown_run():
    r = forge("show", "nope")
    assert r.returncode == 2 and "no run 'nope'" in r.stderr


def test_config_template_is_valid_yaml():
    r = forge("config")
    assert r.returncode == 0
    data = yaml.safe_load(r.stdout)
    assert data["model_name"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and "learning_rate" in data


@pytest.mark.slow
def test_real_smollm2_finetunes_offline(embedded_path, tmp_path):
    """The embedded SmolLM2-135M-Instruct, a few LoRA steps on the pirate sample, through the CLI."""
    cfg = tmp_path / "smol.yaml"
    cfg.write_text((ROOT / "examples" / "pirate_lora.yaml").read_text())
    r = forge("train", str(cfg), "--set", "max_steps=8", "--set", "max_seq_length=128",
              "--set", "learning_rate=0.001", "--set", "eval_split=0.05", "--set", "eval_samples=3", "--set", "eval_max_new_tokens=24",
              "--set", "run_name=smol-slow", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    from forge.runs import get_store
    from forge.training import read_all

    rec = next(x for x in get_store().list_runs() if x["name"] == "smol-slow")
    losses = [e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    assert (Path(rec["output_dir"]) / "adapter_model.safetensors").is_file()
    samples = rec["evaluation"]["samples"]
    assert len(samples) == 3 and all(s["before"] and s["after"] for s in samples)
    assert [s["before"] for s in samples] != [s["after"] for s in samples]
