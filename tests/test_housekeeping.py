"""Cleaning up: runs (with their checkpoints), uploaded datasets and temporary downloads can be
deleted from the CLI and the API, with the space freed said; nothing in use goes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from forge import housekeeping, models
from forge.errors import BusyError, ForgeError
from forge.runs import get_store
from forge.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]


def a_run(status: str, with_model: bool) -> dict:
    store = get_store()
    rec = store.create_run({"name": f"cleanup-{status}", "status": status, "config": {}})
    folder = get_settings().runs_dir / rec["id"]
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (folder / "checkpoints" / "checkpoint-5" / "optimizer.pt").write_bytes(b"\0" * 50_000)
    (folder / "events.jsonl").write_text("{}\n")
    store.update_run(rec["id"], run_dir=str(folder))
    if with_model:
        (folder / "model").mkdir()
        (folder / "model" / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
        store.add_model({"name": f"m-{rec['id']}", "run_id": rec["id"], "kind": "adapter", "path": str(folder / "model")})
    return store.get_run(rec["id"])


def test_delete_a_run_frees_its_checkpoints_and_keeps_its_model(live_run):
    rec = a_run("stopped", with_model=True)
    r = housekeeping.delete_run(rec["id"])
    assert r["freed_bytes"] >= 50_000 and r["kept_model"] == [str(Path(rec["run_dir"]) / "model")]
    assert get_store().get_run(rec["id"]) is None
    assert (Path(rec["run_dir"]) / "model" / "adapter_model.safetensors").is_file()
    assert not (Path(rec["run_dir"]) / "checkpoints").exists()
    bare = a_run("failed", with_model=False)
    housekeeping.delete_run(bare["id"])
    assert not Path(bare["run_dir"]).exists()
    busy = live_run("busy")
    with pytest.raises(BusyError, match="is running: it cannot be deleted now"):
        housekeeping.delete_run(busy["id"])
    with pytest.raises(ForgeError, match="no run 'nope'"):
        housekeeping.delete_run("nope")


def test_delete_uploaded_datasets_unless_a_run_reads_them(live_run):
    folder = get_settings().datasets_dir
    (folder / "old.jsonl").write_text('{"input": "a", "output": "b"}\n' * 10)
    (folder / "in-use.jsonl").write_text('{"input": "a", "output": "b"}\n')
    names = [d["name"] for d in housekeeping.list_datasets()]
    assert {"old.jsonl", "in-use.jsonl"} <= set(names)
    assert housekeeping.delete_dataset("old.jsonl")["freed_bytes"] > 0
    reader = live_run("reader", {"dataset": str(folder / "in-use.jsonl")})
    with pytest.raises(BusyError, match="trains on in-use.jsonl"):
        housekeeping.delete_dataset("in-use.jsonl")
    get_store().update_run(reader["id"], status="stopped")
    with pytest.raises(ForgeError, match="no uploaded dataset '../runs.json'"):
        housekeeping.delete_dataset("../runs.json")  # only files of the datasets folder
    r = subprocess.run([sys.executable, "-m", "forge", "delete-dataset", "in-use.jsonl"], capture_output=True,
                       text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and "Deleted in-use.jsonl" in r.stdout
    assert not (folder / "in-use.jsonl").exists()


def test_old_temporary_downloads_are_cleaned():
    base = Path(tempfile.gettempdir()) / "modelforge-exports"
    old, new = base / "old-model", base / "new-model"
    for d in (old, new):
        d.mkdir(parents=True, exist_ok=True)
        (d / "x.zip").write_bytes(b"\0" * 100)
    past = time.time() - 2 * housekeeping.TEMP_MAX_AGE_S
    os.utime(old, (past, past))
    r = housekeeping.clean_temp()
    assert str(old) in r["removed"] and not old.exists() and new.exists()


def test_download_archives_are_listed_and_deleted(tmp_path):
    folder = models.exports_root() / "some-model-archive"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "some-model.zip").write_bytes(b"\0" * 3000)
    listed = {e["name"]: e for e in housekeeping.list_exports()}
    assert listed["some-model-archive"]["files"] == ["some-model.zip"] and listed["some-model-archive"]["size_bytes"] >= 3000
    keys = {r["key"] for r in housekeeping.storage()}
    assert "export:some-model-archive" in keys
    r = subprocess.run([sys.executable, "-m", "forge", "exports"], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "some-model-archive" in r.stdout and "some-model.zip" in r.stdout
    assert housekeeping.delete_stored("export:some-model-archive")["freed_bytes"] >= 3000
    assert not folder.exists()
    with pytest.raises(ForgeError, match="no export 'some-model-archive'"):
        housekeeping.delete_export("some-model-archive")
    with pytest.raises(ForgeError, match="neither an uploaded dataset nor an export"):
        housekeeping.delete_stored("model:x")
