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
    run_id = next(ln.split()[0] for ln in listing.stdout.splitlines() if "cli-run" in ln)
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


def test_detach_stop_now_and_resume_from_the_terminal(tiny_config, tmp_path):
    import json
    import time

    from forge.runs import get_store
    from forge.training import checkpoints, get_queue, read_all

    get_queue()  # this process plays the server: it adopts the detached worker, as the page would
    cfg = tmp_path / "long.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(max_steps=3000, save_steps=3, eval_split=0.0, run_name="cli-detached")))
    r = forge("train", str(cfg), "--detach")
    assert r.returncode == 0 and "training in the background" in r.stdout, r.stdout + r.stderr[-2000:]
    run_id = r.stdout.split("Run ")[1].split()[0]
    rec = get_store().get_run(run_id)
    deadline = time.time() + 120
    while not any(e["kind"] == "checkpoint" for e in read_all(rec["events_path"])):
        assert time.time() < deadline
        time.sleep(0.1)
    assert forge("stop", run_id, "--now").stdout.strip() == f"Run {run_id}: killed"
    while get_store().get_run(run_id)["status"] == "running":
        assert time.time() < deadline
        time.sleep(0.1)
    assert get_store().get_run(run_id)["status"] == "stopped"
    step = int(checkpoints.latest(rec["run_dir"] + "/checkpoints").name.split("-")[1])
    r = forge("resume", run_id, "--max-steps", str(step + 2))
    assert r.returncode == 0 and f"resumes from checkpoint-{step}" in r.stdout, r.stdout + r.stderr[-2000:]
    assert f"{step + 2}/{step + 2}" in r.stdout and "Completed." in r.stdout
    assert json.loads(forge("show", run_id, "--json").stdout)["config"]["max_steps"] == step + 2


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
    # a step of a 135M model takes seconds on a CPU: few, small steps at a learning rate that moves it
    r = forge("train", str(cfg), "--set", "max_steps=6", "--set", "max_seq_length=128",
              "--set", "per_device_train_batch_size=2", "--set", "learning_rate=0.002", "--set", "eval_split=0.02",
              "--set", "eval_steps=3", "--set", "save_steps=3",
              "--set", "eval_samples=2", "--set", "eval_max_new_tokens=16", "--set", "eval_budget=1",
              "--set", "run_name=smol-slow", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    from forge.runs import get_store
    from forge.training import read_all

    rec = next(x for x in get_store().list_runs() if x["name"] == "smol-slow")
    losses = [e["loss"] for e in read_all(rec["events_path"]) if e["kind"] == "metrics" and "loss" in e]
    assert len(losses) == 6
    assert sum(losses[-2:]) < sum(losses[:2]), losses
    assert (Path(rec["output_dir"]) / "adapter_model.safetensors").is_file()
    samples = rec["evaluation"]["samples"]
    assert len(samples) == 2 and all(s["before"] and s["after"] for s in samples)
    assert [s["before"] for s in samples] != [s["after"] for s in samples]
