"""The Hub tab's engine, endpoints, Space bundle and share warning.

The Hub's servers are the only thing replaced: ``forge.hub.client.HubClient`` (the one class that talks
to the Hub) becomes ``FakeHub``, which records calls. The offline and bad-network tests use the
real client against closed ports, a silent socket and a local server answering 401.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from forge import hub
from forge.errors import ConfigError, HubError, OfflineError
from forge.hub import client as hub_client
from forge.hub.rows import params_text

ROOT = Path(__file__).resolve().parent.parent
FAKE_TOKEN = "hf_FAKE_SECRET_1234567890"


# ---- the fake Hub -------------------------------------------------------------------------------

class FakeHub:
    """Stands in for forge.hub.client.HubClient: same methods, records each call, no network."""

    calls: list[tuple[str, dict]] = []
    repos: set[tuple[str, str]] = set()
    tokens: list[str | None] = []
    uploads: list[dict] = []
    refuse_hardware = False
    download_path: Path | None = None

    def __init__(self, token=None, endpoint=None):
        self._token = token
        self.endpoint = "https://hub.example"
        FakeHub.tokens.append(token)

    @classmethod
    def reset(cls):
        cls.calls, cls.repos, cls.tokens, cls.uploads = [], set(), [], []
        cls.refuse_hardware, cls.download_path = False, None

    def _call(self, name, **kw):
        FakeHub.calls.append((name, kw))

    def names(self):
        return [c[0] for c in FakeHub.calls]

    def url(self, repo_id, repo_type="model"):
        return f"{self.endpoint}/{'spaces/' if repo_type == 'space' else ''}{repo_id}"

    def reachable(self):
        return True

    def whoami(self):
        self._call("whoami")
        return {"name": "alice", "fullname": "Alice", "orgs": [{"name": "acme"}],
                "auth": {"accessToken": {"role": "write"}}}

    def repo_exists(self, repo_id, repo_type="model"):
        self._call("repo_exists", repo_id=repo_id, repo_type=repo_type)
        return (repo_type, repo_id) in FakeHub.repos

    def model_license(self, repo_id):
        self._call("model_license", repo_id=repo_id)
        return "apache-2.0"

    def repo_check(self, repo_id, repo_type="model"):
        self._call("repo_check", repo_id=repo_id, repo_type=repo_type)
        return {"id": repo_id, "gated": False, "sha": "abc"}

    def create_repo(self, repo_id, *, repo_type="model", private=True, exist_ok=True, space_sdk=None,
                    space_hardware=None, space_variables=None):
        self._call("create_repo", repo_id=repo_id, repo_type=repo_type, private=private, space_sdk=space_sdk,
                   space_hardware=space_hardware, space_variables=space_variables)
        if FakeHub.refuse_hardware and space_hardware:
            err = HubError("Creating the Space failed: this needs a paid plan or billing on the account (402).")
            err.status = 402
            raise err
        FakeHub.repos.add((repo_type, repo_id))
        return self.url(repo_id, repo_type)

    def set_space_variables(self, repo_id, variables):
        self._call("set_space_variables", repo_id=repo_id, variables=variables)

    def upload_files(self, repo_id, files, *, repo_type="model", commit_message="", delete_others=False,
                     progress=lambda f, m: None):
        contents = {k: Path(v).read_bytes() for k, v in files.items()}  # the temporary files vanish after
        FakeHub.uploads.append({"repo_id": repo_id, "repo_type": repo_type, "files": contents,
                                "delete_others": delete_others, "message": commit_message})
        self._call("upload_files", repo_id=repo_id, repo_type=repo_type, files=sorted(files))
        progress(0.5, "half way")
        progress(1.0, "commit created")
        return f"{self.url(repo_id, repo_type)}/commit/0123abc"

    def list_models(self, *, search, sort, limit, license=None, pipeline_tag="text-generation"):
        self._call("list_models", search=search, sort=sort, limit=limit, license=license)
        rows = [{"id": "HuggingFaceTB/SmolLM2-360M-Instruct", "params": 362e6, "downloads": 900, "likes": 90},
                {"id": "Qwen/Qwen2.5-0.5B-Instruct", "params": 494e6, "downloads": 5000, "likes": 300},
                {"id": "meta-llama/Llama-3.1-8B-Instruct", "params": 8.03e9, "downloads": 9000, "likes": 4000}]
        key = "likes" if sort == "likes" else "downloads"
        rows = sorted(rows, key=lambda r: r[key], reverse=True)
        return [{**r, "size": params_text(int(r["params"])), "license": license or "apache-2.0", "pipeline_tag":
                 "text-generation", "library": "transformers", "gated": False, "updated": "2025-01-01"}
                for r in rows if not search or search.lower() in r["id"].lower()][:limit]

    def list_datasets(self, *, search, sort, limit):
        self._call("list_datasets", search=search, sort=sort, limit=limit)
        return [{"id": "tatsu-lab/alpaca", "downloads": 100, "likes": 10, "size": "10K<n<100K",
                 "license": "cc-by-nc-4.0", "gated": False, "updated": "2024-01-01"}][:limit]

    def download(self, repo_id, *, repo_type="model", allow_patterns=None, progress=lambda f, m: None):
        self._call("download", repo_id=repo_id, repo_type=repo_type, allow_patterns=allow_patterns)
        progress(0.3, "downloading: 1 MB of 3 MB")
        progress(1.0, "downloading: 3 MB of 3 MB")
        return str(FakeHub.download_path)

    def prepare_dataset(self, repo_id):
        self._call("prepare_dataset", repo_id=repo_id)
        return 42


@pytest.fixture
def fake_hub(monkeypatch):
    FakeHub.reset()
    monkeypatch.setattr(hub_client, "HubClient", FakeHub)
    for name in hub.TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)
    return FakeHub


@pytest.fixture
def no_env_token(monkeypatch):
    for name in hub.TOKEN_ENV:
        monkeypatch.delenv(name, raising=False)


# ---- a trained tiny model -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tiny_model):
    """A 4-step LoRA run of the tiny model: (run record, model record)."""
    from forge.runs import RunStore
    from forge.training import get_queue

    cfg = dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=4, per_device_train_batch_size=2,
               max_seq_length=128, lora_r=8, lora_alpha=16, learning_rate=5e-3, max_samples=40, eval_split=0.2,
               logging_steps=1, warmup_ratio=0.0, run_name="hub-test")
    q = get_queue()
    rec = q.wait(q.submit(cfg)["id"])
    assert rec["status"] == "completed", rec.get("error")
    model = next(m for m in RunStore().list_models() if m.get("run_id") == rec["id"])
    return rec, model


def _card(upload: dict):
    from huggingface_hub import ModelCard

    return ModelCard(upload["files"]["README.md"].decode("utf-8"))


# ---- repository names ---------------------------------------------------------------------------

@pytest.mark.parametrize("rid", ["alice/my-model", "acme-org/SmolLM2_pirate.v2", "a/" + "x" * 94])
def test_valid_repo_ids(rid):
    assert hub.repo_id_problem(rid) is None
    assert hub.check_repo_id(f" {rid} ") == rid


@pytest.mark.parametrize("rid,words", [
    ("", "Give a repository name"), ("my-model", "namespace/name"), ("a/b/c", "namespace/name"),
    ("alice/my model", "characters"), ("alice/-model", "start or end"), ("alice/model.", "start or end"),
    ("alice/my--model", "'--' or '..'"), ("alice/my..model", "'--' or '..'"), ("alice/model.git", ".git"),
    ("al ice/model", "namespace"), ("-alice/model", "namespace"), ("alice/" + "x" * 91, "at most 96"),
    ("alice/café", "characters"),
])
def test_invalid_repo_ids_say_why(rid, words):
    problem = hub.repo_id_problem(rid)
    assert problem and words in problem, problem
    example = re.search(r"for example (\S+?)\)?\.?$", problem)
    if example:  # the example it suggests is itself a valid name
        assert hub.repo_id_problem(example[1]) is None, problem
    with pytest.raises(HubError, match="Invalid repository name"):
        hub.check_repo_id(rid)


# ---- pushing ------------------------------------------------------------------------------------

def test_push_adapter_uploads_adapter_card_and_curve(fake_hub, trained):
    run, model = trained
    seen = []
    r = hub.push_model(model["id"], "alice/pirate-lora", token=FAKE_TOKEN, progress=lambda f, m: seen.append((f, m)))
    assert r["status"] == "pushed" and r["url"] == "https://hub.example/alice/pirate-lora" and r["private"] is True
    create = next(kw for name, kw in fake_hub.calls if name == "create_repo")
    assert create["private"] is True and create["repo_type"] == "model"
    up = fake_hub.uploads[-1]
    files = set(up["files"])
    folder = Path(model["path"])
    expected = {p.name for p in folder.iterdir() if p.suffix in (".json", ".safetensors", ".jinja", ".txt", ".model")}
    assert files == expected | {"README.md", "loss_curve.png"}, files
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= files
    assert not files & {"run_config.yaml", "training_args.bin", "model.safetensors", "config.json"}
    assert up["files"]["loss_curve.png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert up["delete_others"] is False
    # progress moved from the start to the end, in order
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)

    card = _card(up)
    data = card.data
    assert data.library_name == "peft" and "lora" in data.tags and "modelforge" in data.tags
    assert data.base_model is None  # the tiny model is a local folder: no Hub id to name
    results = {e.metric_type: e.metric_value for e in data.eval_results}
    assert results["loss"] == pytest.approx(run["metrics"]["eval_loss"], rel=1e-4)
    text = card.text
    assert "pirate_persona" in text and "| learning_rate | 0.005 |" in text and "![Training and evaluation loss]" \
        in text
    assert "AutoPeftModelForCausalLM.from_pretrained(\"alice/pirate-lora\")" in text
    assert f"{run['metrics']['train_loss']:.4g}" in text
    # the push is remembered on the model record (without the token)
    from forge.runs import RunStore

    assert RunStore().get_model(model["id"])["hub_pushes"][-1]["repo_id"] == "alice/pirate-lora"


def test_push_gguf_uploads_the_file_modelfile_and_a_gguf_card(fake_hub, trained):
    from forge import gguf_export

    run, model = trained
    made = gguf_export.export_gguf(model["id"], "q4_0")
    r = hub.push_model(made["id"], "alice/pirate-gguf", token=FAKE_TOKEN)
    assert r["status"] == "pushed" and r["kind"] == "gguf"
    up = fake_hub.uploads[-1]
    assert {"hub-test.q4_0.gguf", "Modelfile", "README.md", "loss_curve.png"} <= set(up["files"])
    card = _card(up)
    assert card.data.library_name == "gguf" and {"gguf", "ollama"} <= set(card.data.tags)
    assert "ollama run hf.co/alice/pirate-gguf" in card.text and "A GGUF file" in card.text
    assert "from_pretrained" not in card.text


def test_push_to_existing_repo_asks_before_overwriting(fake_hub, trained):
    _, model = trained
    fake_hub.repos.add(("model", "alice/taken"))
    r = hub.push_model(model["id"], "alice/taken", token=FAKE_TOKEN)
    assert r["status"] == "needs_confirmation" and "already exists" in r["message"]
    assert "upload_files" not in [c[0] for c in fake_hub.calls] and "create_repo" not in [c[0] for c in fake_hub.calls]
    r = hub.push_model(model["id"], "alice/taken", token=FAKE_TOKEN, overwrite=True)
    assert r["status"] == "pushed" and fake_hub.uploads[-1]["delete_others"] is True


def test_push_merged_merges_once_then_uploads_a_full_model(fake_hub, trained):
    from forge.runs import RunStore

    _, adapter = trained
    seen = []
    r = hub.push_model(adapter["id"], "acme/pirate-merged", kind="merged", token=FAKE_TOKEN, private=False,
                       progress=lambda f, m: seen.append(m))
    assert r["status"] == "pushed" and r["kind"] == "merged"
    assert any(m.startswith("merging") for m in seen)
    merged = [m for m in RunStore().list_models() if m.get("source_model") == adapter["id"] and m["kind"] != "gguf"]
    assert len(merged) == 1 and merged[0]["kind"] == "merged"
    assert next(kw for n, kw in fake_hub.calls if n == "create_repo")["private"] is False
    files = set(fake_hub.uploads[-1]["files"])
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md",
            "loss_curve.png"} <= files
    assert not any(f.startswith("adapter_") for f in files) and "MERGED.json" not in files
    card = _card(fake_hub.uploads[-1])
    assert card.data.library_name == "transformers" and "merged" in card.data.tags
    assert "AutoModelForCausalLM.from_pretrained(\"acme/pirate-merged\")" in card.text
    # the merged copy is kept: pushing it again merges nothing
    hub.push_model(adapter["id"], "acme/pirate-merged-2", kind="merged", token=FAKE_TOKEN)
    assert len([m for m in RunStore().list_models() if m.get("source_model") == adapter["id"] and m["kind"] != "gguf"]) == 1


def test_push_checks_before_uploading(fake_hub, trained, no_env_token, monkeypatch):
    _, model = trained
    # offline (as every test runs), no token: the Hub being off is what to fix, not the token
    with pytest.raises(OfflineError, match="switched off"):
        hub.push_model(model["id"], "alice/x")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(HubError, match="needs a Hugging Face token"):
        hub.push_model(model["id"], "alice/x")
    with pytest.raises(HubError, match="cannot write to 'bob'"):
        hub.push_model(model["id"], "bob/x", token=FAKE_TOKEN)
    with pytest.raises(HubError, match="Invalid repository name"):
        hub.push_model(model["id"], "alice/bad--name", token=FAKE_TOKEN)
    with pytest.raises(Exception, match="no fine-tuned model"):
        hub.push_model("nope", "alice/x", token=FAKE_TOKEN)
    assert not fake_hub.uploads


def test_token_is_never_written(fake_hub, trained, home, caplog, capsys):
    import logging

    caplog.set_level(logging.DEBUG)
    _, model = trained
    hub.push_model(model["id"], "alice/secret-check", token=FAKE_TOKEN)
    hub.whoami(FAKE_TOKEN)
    assert FAKE_TOKEN in fake_hub.tokens  # the client did get it ...
    secret = FAKE_TOKEN.encode()
    # ... and nothing keeps it: no file under the home (database, run folders, event logs, configs, models)
    leaks = [str(p) for p in home.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert not leaks, leaks
    # nor the uploaded card or any uploaded file, nor the logs, nor the console
    for up in fake_hub.uploads:
        assert not any(secret in content for content in up["files"].values())
    assert FAKE_TOKEN not in caplog.text
    out = capsys.readouterr()
    assert FAKE_TOKEN not in out.out + out.err


def test_model_card_metadata_parses_with_license_dataset_and_evaluation():
    from huggingface_hub import ModelCard

    model = {"name": "m", "kind": "adapter", "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "task": "chat",
             "strategy": "qlora", "quantized_base": True}
    run = {"dataset": "tatsu-lab/alpaca", "config": {"learning_rate": 2e-4, "lora_r": 16, "use_4bit": True,
                                                     "dataset": "/home/me/secret/path.jsonl"},
           "config_set": ["learning_rate", "lora_r", "dataset"],
           "metrics": {"train_loss": 1.2345, "eval_loss": 1.1, "eval_perplexity": 3.004},
           "evaluation": {"metrics": {"rougeL": 0.41}, "base_metrics": {"rougeL": 0.2}, "n": 20,
                          "samples": [{"prompt": "Hi", "before": "Hello.", "after": "Ahoy!"}]},
           "n_train": 90, "n_eval": 10, "provider": "huggingface"}
    lic = hub.base_license(model["base_model"])
    assert lic == "apache-2.0"
    text = str(hub.build_card(model, run, "alice/smol-qlora", kind="adapter", license=lic))
    card = ModelCard(text)
    d = card.data
    assert d.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct" and d.license == "apache-2.0"
    assert d.library_name == "peft" and d.datasets == ["tatsu-lab/alpaca"] and "qlora" in d.tags
    results = {e.metric_type: e.metric_value for e in d.eval_results}
    assert results == {"loss": 1.1, "perplexity": 3.004, "rougeL": 0.41}
    assert "## Evaluation" in text and "| rougeL | 0.2 | 0.41 |" in text and "Ahoy!" in text
    assert "/home/me/secret" not in text  # local paths stay on this machine
    assert "| 4-bit (QLoRA) |" in text or "4-bit (QLoRA)" in text


def test_card_names_the_base_and_dataset_by_the_engines_rules(tmp_path):
    from forge.config import EMBEDDED_MODEL
    from forge.hub.provenance import base_hub_id, dataset_ref

    assert base_hub_id(EMBEDDED_MODEL) == EMBEDDED_MODEL and base_hub_id("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    assert base_hub_id(str(tmp_path)) is None and base_hub_id(str(tmp_path / "gone")) is None
    assert base_hub_id(None) is None and base_hub_id("no-such-model") is None
    assert dataset_ref("sample:pirate_persona") == {"kind": "sample", "name": "pirate_persona", "hub_id": None}
    assert dataset_ref("tatsu-lab/alpaca")["hub_id"] == "tatsu-lab/alpaca"
    assert dataset_ref("/home/me/data.jsonl") == {"kind": "file", "name": "data.jsonl", "hub_id": None}
    assert dataset_ref("org/data.csv")["kind"] == "file"


def test_card_describes_the_settings_as_trained(tmp_path):
    """A qlora run where the user set only the strategy: 4-bit comes from the strategy, so the card
    reads it from the run's resolved config, not from the user's settings."""
    (tmp_path / "config.yaml").write_text("strategy: qlora\nuse_4bit: true\nuse_8bit: false\nlora_r: 16\n"
                                          "per_device_train_batch_size: 4\n")
    model = {"name": "m", "kind": "adapter", "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
             "strategy": "qlora", "quantized_base": True}
    run = {"dataset": "sample:pirate_persona", "config": {"strategy": "qlora"}, "config_set": ["strategy"],
           "run_dir": str(tmp_path)}
    text = str(hub.build_card(model, run, "alice/smol-qlora", kind="adapter"))
    assert "qlora" in text.split("---")[1] and "8bit-lora" not in text
    assert "| Quantized base | 4-bit (QLoRA) |" in text
    assert "| use_4bit | True |" in text and "| per_device_train_batch_size | 4 |" in text


def test_card_preview_on_the_page_follows_what_is_pushed(trained):
    from forge.ui.hub import card_view

    _, model = trained
    adapter = card_view(model["id"], "alice/pirate", "adapter")
    merged = card_view(model["id"], "alice/pirate-merged", "merged")
    assert adapter.startswith("Metadata (the card's header):\n\n```yaml\n") and "library_name: peft" in adapter
    assert 'AutoPeftModelForCausalLM.from_pretrained("alice/pirate")' in adapter
    assert "library_name: transformers" in merged and "AutoPeftModelForCausalLM" not in merged
    assert 'from_pretrained("alice/pirate-merged")' in merged
    for card in (adapter, merged):  # the image is a file of the pushed repository, named, not a broken link
        assert "](loss_curve.png)" not in card and "`loss_curve.png`, pushed with the card" in card


def test_loss_curve_png(trained, tmp_path):
    run, _ = trained
    png = hub.loss_curve_png(run["events_path"], tmp_path / "curve.png")
    assert png and png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    assert hub.loss_curve_png(tmp_path / "missing.jsonl", tmp_path / "x.png") is None


def test_loss_curve_reads_the_run_state(tmp_path, monkeypatch):
    """The curve's points are the RunState's: a phase's series named after it, a resumed run's steps once."""
    from forge.hub import curves

    events = [{"kind": "metrics", "step": 1, "loss": 2.0, "phase": "reward"},
              {"kind": "metrics", "step": 1, "loss": 3.0}, {"kind": "metrics", "step": 2, "loss": 2.5},
              {"kind": "metrics", "step": 3, "loss": 9.0},  # trained again after the resume below
              {"kind": "status", "status": "running", "resume_step": 2},
              {"kind": "metrics", "step": 3, "loss": 2.2, "eval_loss": 2.4}]
    log = tmp_path / "run" / "events.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps(ev) + "\n" for ev in events))
    drawn = {}
    monkeypatch.setattr(curves, "_draw", lambda series, dest: drawn.update(series) or dest)
    assert curves.loss_curve_png(log, tmp_path / "c.png") == tmp_path / "c.png"
    assert drawn == {"reward train loss": [(1, 2.0)], "train loss": [(1, 3.0), (2, 2.5), (3, 2.2)],
                     "eval loss": [(3, 2.4)]}
    assert [curves._label(n) for n in drawn] == [("training loss (reward)", False), ("training loss", False),
                                                ("evaluation loss", True)]
    log.write_text(json.dumps({"kind": "log", "message": "no loss yet"}) + "\n")
    assert curves.loss_curve_png(log, tmp_path / "d.png") is None


# ---- search and download ------------------------------------------------------------------------

def test_search_models_and_datasets_with_fake(fake_hub):
    rows = hub.search_models("", sort="likes", limit=5)
    assert [r["id"] for r in rows][0] == "meta-llama/Llama-3.1-8B-Instruct"
    small = hub.search_models("", sort="downloads", max_params_b=1, license="apache-2.0")
    assert [r["id"] for r in small] == ["Qwen/Qwen2.5-0.5B-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct"]
    assert small[0]["size"] == "494M" and small[0]["license"] == "apache-2.0"
    call = [kw for n, kw in fake_hub.calls if n == "list_models"][-1]
    assert call["license"] == "apache-2.0" and call["limit"] == 60
    assert hub.search_datasets("alpaca")[0]["id"] == "tatsu-lab/alpaca"
    with pytest.raises(HubError, match="Unknown sort"):
        hub.search_models("x", sort="size")


def test_download_model_and_dataset_with_fake(fake_hub, tiny_model):
    fake_hub.download_path = tiny_model
    seen = []
    r = hub.download_model("acme/tiny", progress=lambda f, m: seen.append(m))
    assert r["path"] == str(tiny_model) and "Finetune" in r["message"]
    dl = next(kw for n, kw in fake_hub.calls if n == "download")
    assert dl["allow_patterns"] == hub.MODEL_PATTERNS and dl["repo_type"] == "model"
    assert any("3 MB of 3 MB" in m for m in seen)
    r = hub.download_dataset("tatsu-lab/alpaca")
    assert r["rows"] == 42 and r["reference"] == "tatsu-lab/alpaca"
    assert ("prepare_dataset", {"repo_id": "tatsu-lab/alpaca"}) in fake_hub.calls
    with pytest.raises(HubError, match="not a Hub model id"):
        hub.download_model("../etc")


def test_cached_models_lists_the_hub_cache(tmp_path):
    repo = tmp_path / "models--acme--tiny"
    rev = "0" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    for name, content in (("config.json", b"{}"), ("model.safetensors", b"x" * 100)):
        blob = repo / "blobs" / f"blob-{name}"
        blob.write_bytes(content)
        (snap / name).symlink_to(Path("../..") / "blobs" / blob.name)
    (tmp_path / "datasets--acme--data" / "snapshots").mkdir(parents=True)
    rows = hub.cached_models(tmp_path)
    assert [r["repo_id"] for r in rows] == ["acme/tiny"] and rows[0]["path"] == str(snap)
    assert hub.cached_models(tmp_path / "nowhere") == []


# ---- failing fast with the real client ----------------------------------------------------------

def _timed(fn):
    t0 = time.time()
    with pytest.raises(Exception) as info:
        fn()
    return info.value, time.time() - t0


def test_offline_search_fails_fast_with_a_clear_message():
    """The real client, HF_HUB_OFFLINE=1 (as in every test)."""
    assert hub_client.HubClient.__name__ == "HubClient"
    err, took = _timed(lambda: hub.search_models("smollm"))
    assert isinstance(err, OfflineError) and took < 5
    assert "HF_HUB_OFFLINE" in str(err) and "How to fix" in str(err)
    err, took = _timed(lambda: hub.download_model("HuggingFaceTB/SmolLM2-360M-Instruct"))
    assert isinstance(err, OfflineError) and took < 5


@pytest.fixture
def online_env(monkeypatch, no_env_token):
    """Offline mode off, so that the real client tries the network (pointed at local endpoints)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def point_to(url):
        monkeypatch.setenv("HF_ENDPOINT", url)

    return point_to


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_hub_fails_fast(online_env):
    online_env(f"http://127.0.0.1:{_closed_port()}")
    err, took = _timed(lambda: hub.search_models("smollm"))
    assert isinstance(err, OfflineError) and took < 5 and "cannot reach" in str(err)
    err, took = _timed(lambda: hub.whoami(FAKE_TOKEN))
    assert isinstance(err, OfflineError) and took < 5 and FAKE_TOKEN not in str(err)


def test_hub_that_never_answers_fails_fast(online_env):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    online_env(f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        err, took = _timed(lambda: hub.search_models("smollm"))
        assert isinstance(err, HubError) and took < 5 and "did not answer" in str(err), err
    finally:
        server.close()


class _Refuse401(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = json.dumps({"error": "Invalid credentials in Authorization header"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _http_server(handler):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_bad_token_gets_a_plain_message(online_env):
    with _http_server(_Refuse401) as url:
        online_env(url)
        err, took = _timed(lambda: hub.whoami("hf_BAD_TOKEN_0000000000"))
    assert isinstance(err, HubError) and took < 5
    assert "refused the token" in str(err) and "settings/tokens" in str(err)
    assert "hf_BAD_TOKEN" not in str(err)


def test_whoami_without_any_token(no_env_token, monkeypatch):
    with pytest.raises(OfflineError, match="switched off"):
        hub.whoami("")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with pytest.raises(HubError, match="needs a Hugging Face token"):
        hub.whoami("")


# ---- Space bundle -------------------------------------------------------------------------------

def forge_cli(*args, env=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "forge", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def test_space_build_writes_a_valid_space(tmp_path):
    from huggingface_hub import SpaceCard

    out = tmp_path / "space"
    r = forge_cli("space", "build", str(out))
    assert r.returncode == 0, r.stderr
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    cfg = yaml.safe_load((ROOT / "spaces_config.yaml").read_text(encoding="utf-8"))
    assert front == cfg["card"] | {"python_version": str(cfg["card"]["python_version"])}
    data = SpaceCard(text).data
    assert data.sdk == "gradio" and data.sdk_version == "6.31.0" and data.app_file == "app.py"
    assert front["suggested_hardware"] == "t4-small" and front["suggested_storage"] in ("small", "medium", "large")
    assert set(front) <= __import__("forge.space", fromlist=["CARD_KEYS"]).CARD_KEYS
    reqs = (out / "requirements.txt").read_text()
    names = {line.split("=")[0].split(">")[0].split("<")[0].strip().lower() for line in reqs.splitlines()
             if line and not line.startswith("#")}
    assert {"unsloth", "bitsandbytes", "torch", "transformers", "peft", "trl"} <= names
    assert "torch==" not in reqs and "pytest" not in names
    assert (out / "app.py").is_file() and (out / "forge" / "hub" / "__init__.py").is_file() and (out / "forge" / "cli.py").is_file()
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))
    # a second build refuses to write over it, unless asked
    again = forge_cli("space", "build", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr
    assert forge_cli("space", "build", str(out), "--force").returncode == 0


def test_space_config_errors_name_the_key(tmp_path):
    from forge import space

    bad = tmp_path / "bad.yaml"
    bad.write_text("card: {title: X, sdk: streamlit, sdk_version: 1, app_file: app.py, colorFrom: teal, "
                   "suggested_hardware: h100-huge, bogus: 1}\n")
    with pytest.raises(ConfigError) as info:
        space.load_config(bad)
    msg = str(info.value)
    assert "bogus" in msg and "colorFrom" in msg and "h100-huge" in msg and "sdk must be gradio" in msg


def test_space_deploy_creates_and_uploads(fake_hub, monkeypatch, capsys):
    from forge.cli import main

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert main(["space", "deploy", "alice/forge-studio"]) == 0
    create = next(kw for n, kw in fake_hub.calls if n == "create_repo")
    assert create["repo_type"] == "space" and create["space_sdk"] == "gradio" and create["space_hardware"] == "t4-small"
    assert create["space_variables"] == {"MODELFORGE_CONCURRENCY": "2"}
    up = fake_hub.uploads[-1]
    assert up["repo_type"] == "space"
    assert {"README.md", "app.py", "requirements.txt", "forge/hub/__init__.py", "forge/hub/push.py", "forge/ui/hub.py"} <= set(up["files"])
    assert b"unsloth" in up["files"]["requirements.txt"]
    out = capsys.readouterr().out
    assert "https://hub.example/spaces/alice/forge-studio" in out and FAKE_TOKEN not in out
    # a second deploy updates it: no creation, the variables are set again
    fake_hub.calls.clear()
    assert main(["space", "deploy", "alice/forge-studio"]) == 0
    called = [c[0] for c in fake_hub.calls]
    assert "create_repo" not in called and "set_space_variables" in called


def test_space_deploy_falls_back_to_free_hardware(fake_hub, monkeypatch, capsys):
    from forge import space

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    fake_hub.refuse_hardware = True
    r = space.deploy("acme/forge-cpu")
    assert r["hardware"] is None and r["created"]
    hw = [kw["space_hardware"] for n, kw in fake_hub.calls if n == "create_repo"]
    assert hw == ["t4-small", None]
    assert "free CPU hardware" in capsys.readouterr().out


# ---- share warning ------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_share_without_auth_warns_on_console_and_page(tmp_path):
    from forge.ui.hub import SHARE_WARNING

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MODELFORGE_AUTH", "SPACE_ID")}
    env.update(PYTHONPATH=str(ROOT), MODELFORGE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1",
               GRADIO_SHARE_SERVER_ADDRESS=f"127.0.0.1:{_closed_port()}", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "app.py", "--share", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not any("WARNING" in ln for ln in lines) and proc.poll() is None:
            time.sleep(0.2)
        console = "".join(lines)
        assert SHARE_WARNING in console, console[-3000:]
        assert "No public share link could be made" in console
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as resp:
            page = resp.read().decode("utf-8")
        assert SHARE_WARNING in page
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()


# ---- API endpoints ------------------------------------------------------------------------------

HUB_ENDPOINTS = {"/whoami", "/push", "/search_models", "/search_datasets", "/download_model", "/download_dataset",
                 "/cached_models"}


@pytest.fixture(scope="module")
def client(trained):
    from gradio_client import Client

    from ui_server import running_app

    with running_app() as url:
        yield Client(url, verbose=False)


def test_hub_endpoints_are_documented(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert HUB_ENDPOINTS <= set(api["named_endpoints"])


def test_api_whoami_offline_says_so(client, no_env_token):
    from gradio_client.exceptions import AppError

    t0 = time.time()
    with pytest.raises(AppError, match="HF_HUB_OFFLINE"):
        client.predict(FAKE_TOKEN, api_name="/whoami")
    assert time.time() - t0 < 5
    with pytest.raises(AppError, match="switched off"):  # no token, offline: the Hub is off, said first
        client.predict("", api_name="/whoami")


def test_api_search_models(client, fake_hub):
    rows = client.predict("qwen", "downloads", "", 0, 10, "", api_name="/search_models")
    assert [r["id"] for r in rows] == ["Qwen/Qwen2.5-0.5B-Instruct"] and rows[0]["size"] == "494M"
    assert client.predict("alice", api_name="/whoami")["name"] == "alice"


def test_api_search_models_offline(client, no_env_token):
    from gradio_client.exceptions import AppError

    t0 = time.time()
    with pytest.raises(AppError, match="HF_HUB_OFFLINE"):
        client.predict("smol", api_name="/search_models")
    assert time.time() - t0 < 5


def test_api_push_then_confirm(client, fake_hub, trained, home):
    _, model = trained
    r = client.predict(model["id"], "alice/api-push", "adapter", True, False, FAKE_TOKEN, api_name="/push")
    assert r["status"] == "pushed" and "README.md" in r["files"]
    r = client.predict(model["id"], "alice/api-push", "adapter", True, False, FAKE_TOKEN, api_name="/push")
    assert r["status"] == "needs_confirmation"
    r = client.predict(model["id"], "alice/api-push", "adapter", True, True, FAKE_TOKEN, api_name="/push")
    assert r["status"] == "pushed"
    secret = FAKE_TOKEN.encode()
    assert not [p for p in home.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_page_has_no_share_warning_when_not_shared(client):
    from forge.ui.hub import SHARE_WARNING

    with urllib.request.urlopen(f"{client.src.rstrip('/')}/config", timeout=30) as resp:
        page = resp.read().decode("utf-8")
    assert SHARE_WARNING not in page and "Hugging Face account" in page


def test_space_detection_says_where_models_are_kept(monkeypatch, home):
    from forge.ui.hub import storage_markdown

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert f"kept in `{home}`" in storage_markdown() and "Space" not in storage_markdown()
    monkeypatch.setenv("SPACE_ID", "alice/modelforge")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    text = storage_markdown()
    assert "alice/modelforge" in text and "without persistent storage" in text and "/data/modelforge" in text
    assert "anyone who can open the Space can push" in text and FAKE_TOKEN not in text
    info = hub.storage_info()
    assert info["on_space"] and info["persistent"] is False and info["home"] == str(home)
