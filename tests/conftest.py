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
# One torch thread per process (the workers inherit it): the tiny model trains faster so, and the
# suite's parallel test processes and their run workers do not fight over the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# The embedded model's converted copy is shared by every test run on this machine (it takes
# about 20 s to convert), kept outside the per-run home.
_SHARED = Path(os.environ.get("MODELFORGE_TEST_CACHE", Path(tempfile.gettempdir()) / "forge-test-cache"))


# The test tiers. ``make test-fast`` runs what is left after these: unit-level tests, no server,
# browser, worker process, training run or real SmolLM2. A file belongs here when it launches the
# app's server (running_app), drives Chromium, trains through the queue's worker processes (the
# CLI's included) or loads the real SmolLM2 (test_catalog).
INTEGRATION_FILES = {
    "test_alignment.py", "test_alignment_api.py", "test_app_api.py", "test_bad_input_corpus.py", "test_browser.py",
    "test_browser_hostile.py", "test_browser_playground.py", "test_browser_tables.py", "test_catalog.py", "test_cli.py",
    "test_compare_runs.py", "test_evaluation.py", "test_evaluation_api.py", "test_hub.py", "test_mcp.py",
    "test_models_api.py", "test_models_playground.py", "test_openai_endpoint.py", "test_training.py",
    "test_unsloth.py", "test_workers.py", "test_workers_server.py",
}
# Single tests that train through worker processes, or convert a model for minutes, in a file that
# is otherwise unit-level.
INTEGRATION_TESTS = {
    "test_formats.py::test_every_format_fixture_trains",
    "test_gguf_export.py::test_f16_and_q4_0_files_carry_the_chat_template_and_read_back",
}
# Fixtures that train in a worker process: a test using one is an integration test wherever it is.
TRAINING_FIXTURES = {"trained_adapter"}


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: launches a server, a browser or worker processes, or trains "
                                       "through the queue (left out of make test-fast)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (item.path.name in INTEGRATION_FILES or f"{item.path.name}::{item.originalname}" in INTEGRATION_TESTS
                or TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def home() -> Path:
    return HOME


@pytest.fixture(scope="session")
def embedded_path() -> Path:
    """The embedded SmolLM2 as a safetensors folder (converted once per machine; parallel test
    workers take turns under a file lock, so only the first converts it)."""
    import fcntl

    from forge.settings import get_settings

    target = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct"
    shared = _SHARED / "embedded" / "SmolLM2-135M-Instruct"
    _SHARED.mkdir(parents=True, exist_ok=True)
    with open(_SHARED / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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
    return next(m for m in get_store().list_models() if m.get("run_id") == rec["id"])


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
