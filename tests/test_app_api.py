"""The Finetune tab's API, driven with gradio_client against the launched app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ui_server import free_port, running_app, wait_idle

ENDPOINTS = {"/train", "/stop", "/runs", "/run", "/validate_dataset", "/upload_dataset", "/follow", "/resume",
             "/delete_run", "/datasets", "/delete_dataset"}


@pytest.fixture(scope="module")
def client(tiny_model):
    with running_app() as url:
        yield Client(url, verbose=False)


def test_endpoints_are_documented(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert ENDPOINTS <= set(api["named_endpoints"])


def test_train_streams_progress_then_completes(client, tiny_config):
    wait_idle()
    job = client.submit(tiny_config(run_name="api-train"), None, api_name="/train")
    updates = list(job)
    final = updates[-1]
    assert final["status"] == "completed", final
    assert final["finished"] and final["run_id"]
    running = [u for u in updates if u["status"] == "running" and u["step"]]
    assert len(running) >= 3, [(u["status"], u["step"]) for u in updates]
    steps = [u["step"] for u in running]
    assert steps == sorted(steps) and steps[-1] == 12
    assert final["loss"] is not None and final["eval_loss"] is not None and final["learning_rate"] is not None
    # every event of the log arrives once, in order
    events = [e for u in updates for e in u["events"]]
    assert events[-1]["kind"] == "result" and events[-1]["status"] == "completed"
    assert sorted(e["t"] for e in events) == [e["t"] for e in events]

    runs = client.predict(api_name="/runs")
    mine = next(r for r in runs if r["id"] == final["run_id"])
    assert mine["name"] == "api-train" and mine["status"] == "completed"
    assert mine["task"] == "text-generation" and mine["strategy"] == "sft"
    assert isinstance(mine["final_loss"], float) and mine["duration_s"] > 0

    run = client.predict(final["run_id"], api_name="/run")
    assert run["status"] == "completed" and run["config"]["max_steps"] == 12
    assert len(run["history"]["loss"]) == 12 and run["history"]["eval_loss"] and run["history"]["learning_rate"]
    assert "eval_loss" in run["metrics"]


def test_stop_a_run(client, tiny_config, tmp_path):
    wait_idle()
    data = tmp_path / "persona.jsonl"
    data.write_text("".join(json.dumps({"input": f"Question {i}?", "output": f"Arr, answer {i}!"}) + "\n"
                            for i in range(40)), encoding="utf-8")
    cfg = tiny_config(max_steps=2000, dataset="sample:does-not-matter")
    job = client.submit(cfg, handle_file(str(data)), api_name="/train")
    run_id = None
    deadline = time.time() + 120
    while time.time() < deadline:
        outs = job.outputs()
        if outs:
            run_id = outs[-1]["run_id"]
            if (outs[-1]["step"] or 0) >= 2:
                break
        time.sleep(0.1)
    assert run_id, "no update arrived"
    assert client.predict(run_id, api_name="/stop")["result"] == "stopping"
    final = job.result(timeout=120)
    assert final["status"] == "stopped" and final["run_id"] == run_id
    assert final["step"] < 2000
    rec = client.predict(run_id, api_name="/run")
    assert rec["status"] == "stopped" and rec["dataset"] == "persona.jsonl"
    assert client.predict(run_id, api_name="/stop")["result"].startswith("not active")


def test_a_failed_run_ends_with_a_plain_message(client, tiny_config):
    wait_idle()
    final = client.predict(tiny_config(model_name="nobody/no-such-model"), None, api_name="/train")
    assert final["status"] == "failed" and final["finished"]
    assert "nobody/no-such-model" in final["error"] and "offline" in final["error"]
    assert "Traceback" not in final["error"]


def test_bad_dataset_reports_line_numbers(client, tmp_path):
    bad = tmp_path / "bad.jsonl"
    long_secret = "S" * 500
    bad.write_text("\n".join([
        json.dumps({"input": "ok", "output": "fine"}),
        '{"input": "broken json", ' + long_secret,
        json.dumps({"input": "ok", "output": "fine"}),
        json.dumps({"input": "no output here"}),
        json.dumps({"input": "", "output": "empty input"}),
    ]) + "\n", encoding="utf-8")
    result = client.predict("", "", handle_file(str(bad)), api_name="/validate_dataset")
    assert result["ok"] is False
    assert [p["line"] for p in result["problems"]] == [2, 4, 5]
    assert "invalid JSON" in result["problems"][0]["message"]
    assert "output" in result["problems"][1]["message"]
    assert len(result["problems"][0]["excerpt"]) <= 81  # the first 80 characters and an ellipsis
    assert long_secret not in json.dumps(result)

    ok = client.predict("sample:pirate_persona", "", None, api_name="/validate_dataset")
    assert ok["ok"] and ok["task"] == "text-generation" and ok["rows"] == 300 and len(ok["preview"]) == 5


def test_upload_dataset(client, tmp_path, home):
    csv = tmp_path / "qa.csv"
    csv.write_text("instruction,response\n" + "".join(f"Say {i},Said {i}\n" for i in range(10)), encoding="utf-8")
    result = client.predict(handle_file(str(csv)), api_name="/upload_dataset")
    assert result["ok"] and result["task"] == "text-generation" and result["rows"] == 10
    stored = Path(result["dataset"])
    assert stored.parent == home / "datasets" and stored.read_text() == csv.read_text()
    again = client.predict(result["dataset"], "", None, api_name="/validate_dataset")
    assert again["ok"] and again["rows"] == 10


def test_paths_outside_the_sandbox_are_refused(client, tiny_config, home, tmp_path, monkeypatch):
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps({"input": "password", "output": "hunter2"}) + "\n", encoding="utf-8")
    link = home / "datasets" / "api-link.jsonl"  # test_data makes its own link.jsonl in the same home
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    for ref in ("/etc/passwd", "../../../../etc/passwd", str(outside), link.name, str(link),
                str(home / "datasets" / ".." / ".." / outside.name)):
        result = client.predict(ref, "", None, api_name="/validate_dataset")
        assert result["ok"] is False and "outside the folders this server may read" in result["error"], ref
        assert "hunter2" not in json.dumps(result)
        assert "/upload_dataset" in result["error"]  # says how to upload instead

    with pytest.raises(AppError, match="outside the folders"):
        client.predict(tiny_config(dataset=str(outside)), None, api_name="/train")
    with pytest.raises(AppError, match="model path '/etc' is outside"):
        client.predict(tiny_config(model_name="/etc"), None, api_name="/train")
    model_link = home / "models" / "escape"
    model_link.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(AppError, match="outside the folders"):
        client.predict(tiny_config(model_name=str(model_link)), None, api_name="/train")
    with pytest.raises(AppError, match="model path '/etc' is outside"):
        client.predict(tiny_config(reward_model="/etc"), None, api_name="/train")
    with pytest.raises(AppError, match="learning_rate"):
        client.predict(tiny_config(learning_rate=-1), None, api_name="/train")

    # a folder the server's owner allows is readable
    monkeypatch.setenv("MODELFORGE_ALLOWED_PATHS", str(tmp_path))
    result = client.predict(str(outside), "", None, api_name="/validate_dataset")
    assert "outside" not in (result["error"] or "")


def test_app_serves_with_share_offline_and_auth(tmp_path):
    port = free_port()
    env = {**os.environ, "MODELFORGE_AUTH": "ada:lovelace", "PYTHONUNBUFFERED": "1"}
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--share"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "No public share link" in line or "Public link" in line or proc.poll() is not None:
                break
        out = "".join(lines)
        if "Public link" in out:
            pytest.skip("this machine can reach the share server")
        assert "No public share link could be made" in out and "served locally" in out, out
        assert proc.poll() is None, out
        # still serving, behind the login
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10)
        c = Client(f"http://127.0.0.1:{port}/", auth=("ada", "lovelace"), verbose=False)
        assert isinstance(c.predict(api_name="/runs"), list)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_page_loads_without_heavy_libraries():
    """The page comes up fast: building it imports no ML library (they load on first use)."""
    code = ("import sys, app; from forge.ui import build_app; build_app(); "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'bitsandbytes', 'datasets', "
            "'accelerate', 'unsloth') if m in sys.modules))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
