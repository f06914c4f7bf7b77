"""Shared fixtures. Every test runs offline, in a temporary ModelForge home."""

import os
import tempfile
from pathlib import Path

import pytest

HOME = Path(tempfile.mkdtemp(prefix="forge-test-home-"))
os.environ["MODELFORGE_HOME"] = str(HOME)
os.environ.pop("MODELFORGE_DB_PATH", None)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("MODELFORGE_DISABLE_TENSORBOARD", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The embedded model's converted copy is shared by every test run on this machine (it takes
# about 20 s to convert), kept outside the per-run home.
_SHARED = Path(os.environ.get("MODELFORGE_TEST_CACHE", Path(tempfile.gettempdir()) / "forge-test-cache"))


@pytest.fixture(scope="session")
def home() -> Path:
    return HOME


@pytest.fixture(scope="session")
def embedded_path() -> Path:
    """The embedded SmolLM2 as a safetensors folder (converted once per machine)."""
    from forge.settings import get_settings

    target = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct"
    shared = _SHARED / "embedded" / "SmolLM2-135M-Instruct"
    if not (target / "model.safetensors").is_file() and (shared / "model.safetensors").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(shared, target_is_directory=True)
    from forge import catalog

    path = catalog.embedded_folder()
    if not (shared / "model.safetensors").is_file() and not target.is_symlink():
        import shutil

        shared.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(path, shared, dirs_exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_model(embedded_path) -> Path:
    """A tiny random Llama (hidden 64, 2 layers) around the SmolLM2 tokenizer, in the models folder."""
    from forge.settings import get_settings
    from forge.tiny import build_tiny_model

    return build_tiny_model(get_settings().models_dir / "tiny-llama")


@pytest.fixture
def tiny_config(tiny_model):
    """A fast run of the tiny model: returns a dict to pass (with overrides) to the queue."""

    def make(**overrides):
        cfg = dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=12,
                   per_device_train_batch_size=2, max_seq_length=128, lora_r=8, lora_alpha=16,
                   learning_rate=5e-3, max_samples=60, eval_split=0.1, logging_steps=1, warmup_ratio=0.0)
        cfg.update(overrides)
        return cfg

    return make


@pytest.fixture(scope="session")
def trained_adapter(tiny_model) -> dict:
    """A LoRA adapter trained on the tiny model (12 steps), shared read-only: its model record.
    Tests that change or delete a model work on a copy (``copy_model`` in test_models_playground)."""
    from forge.runs import get_store
    from forge.training import get_queue

    q = get_queue()
    rec = q.wait(q.submit(dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=12,
                               per_device_train_batch_size=2, max_seq_length=128, lora_r=8, lora_alpha=16,
                               learning_rate=5e-3, max_samples=60, eval_split=0.1, logging_steps=1,
                               warmup_ratio=0.0, run_name="shared-adapter",
                               eval_budget=1.0))["id"], timeout=600)  # every answer and the base's loss, always
    assert rec["status"] == "completed", rec.get("error")
    return next(m for m in get_store().list_models() if m["run_id"] == rec["id"])


@pytest.fixture
def live_run():
    """Make a run record that is ``running`` with a live stand-in worker (a sleeping process whose
    command line names this run's worker), so a supervising queue in this process neither ends it
    as "worker gone" nor claims it as a queued run. Returns ``make(name, config) -> record``."""
    import subprocess
    import sys

    from forge.runs import get_store, new_id
    from forge.training.job import run_dir

    made: list[tuple[str, subprocess.Popen]] = []

    def make(name: str = "live", config: dict | None = None, **fields) -> dict:
        run_id = new_id()  # the record is written whole, with its worker, so no look sees it half made
        folder = run_dir(run_id)
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "forge.training.worker",
                                   str(folder)])
        made.append((run_id, worker))
        return get_store().create_run({"id": run_id, "name": name, "config": config or {}, "status": "running",
                                       "events_path": str(folder / "events.jsonl"), "run_dir": str(folder),
                                       "pid": worker.pid, **fields})

    yield make
    from forge.runs import get_store as _store

    for run_id, worker in made:
        worker.kill()
        worker.wait()
        if _store().get_run(run_id):
            _store().update_run(run_id, status="stopped")
