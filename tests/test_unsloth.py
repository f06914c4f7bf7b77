"""The unsloth provider.

In the main environment (no Unsloth) only the fallback, the messages and the start-up cost are
checked. In ``.venv-unsloth`` (``.ci/unsloth.sh`` sets ``MODELFORGE_UNSLOTH_CPU=1``), the tiny
random Llama of conftest is trained through the provider for real and its adapter is loaded
back with plain transformers + PEFT.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import forge  # noqa: F401  (first: imports Unsloth before transformers/TRL/PEFT when it will be used)
from forge.catalog import ResolvedModel
from forge.config import RunConfig
from forge.errors import UnavailableError
from forge.providers import choose_provider, get_provider
from forge.providers import unsloth as unsloth_provider
from forge.ui.choices import provider_markdown

ROOT = Path(__file__).resolve().parents[1]
HAS_UNSLOTH = importlib.util.find_spec("unsloth") is not None
needs_unsloth = pytest.mark.skipif(not HAS_UNSLOTH, reason="unsloth is not installed (pip install -r requirements-gpu.txt)")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


needs_training = pytest.mark.skipif(
    not HAS_UNSLOTH or not (os.environ.get("MODELFORGE_UNSLOTH_CPU") == "1" or _cuda()),
    reason="training through unsloth needs unsloth and a GPU, or MODELFORGE_UNSLOTH_CPU=1",
)


def _fake_model(tmp_path: Path, model_type: str) -> ResolvedModel:
    d = tmp_path / model_type
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": model_type}))
    return ResolvedModel(str(d), d, "local")


@pytest.fixture
def without_unsloth(monkeypatch):
    """Make this process look like one where Unsloth is not installed."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "unsloth" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delenv("MODELFORGE_UNSLOTH_CPU", raising=False)


# ---- everywhere ---------------------------------------------------------------------------

def test_auto_falls_back_to_huggingface_with_a_reason(tmp_path, without_unsloth):
    resolved = _fake_model(tmp_path, "llama")
    provider, why = choose_provider(RunConfig(provider="auto"), resolved)
    assert provider.name == "huggingface"
    assert why.startswith("huggingface (auto")
    assert "unsloth: Unsloth is not installed" in why and "pip install -r requirements-gpu.txt" in why


def test_choosing_unsloth_when_missing_says_how_to_install(without_unsloth):
    with pytest.raises(UnavailableError) as e:
        choose_provider(RunConfig(provider="unsloth"))
    assert "pip install -r requirements-gpu.txt" in str(e.value)


def test_unsloth_is_listed_before_huggingface():
    from forge.providers import PROVIDERS, provider_names

    assert list(PROVIDERS)[:2] == ["unsloth", "huggingface"]
    assert provider_names()[:3] == ["auto", "unsloth", "huggingface"]


def test_turned_off_by_environment(monkeypatch):
    monkeypatch.setenv("MODELFORGE_UNSLOTH", "0")
    ok, why = get_provider("unsloth").available()
    assert not ok and "MODELFORGE_UNSLOTH=0" in why


def test_supports_checks_the_architecture_and_strategy(tmp_path):
    p = get_provider("unsloth")
    ok, why = p.supports(_fake_model(tmp_path, "gpt2"), RunConfig())
    assert not ok and "'gpt2'" in why and "llama" in why
    assert p.supports(_fake_model(tmp_path, "qwen2"), RunConfig()) == (True, "")
    ok, why = p.supports(_fake_model(tmp_path, "llama"), RunConfig(strategy="ppo"))
    assert not ok and "'ppo'" in why
    adapter = ResolvedModel("a", tmp_path, "local", is_adapter=True)
    assert not p.supports(adapter, RunConfig())[0]


def test_target_modules_follow_the_config():
    assert unsloth_provider.target_modules(RunConfig()) == unsloth_provider.ALL_LINEAR
    assert unsloth_provider.target_modules(RunConfig(target_modules="q_proj, v_proj")) == ["q_proj", "v_proj"]


def test_import_forge_stays_light_without_a_gpu():
    """No GPU and no CPU flag: importing forge loads neither Unsloth nor torch (the page starts fast)."""
    env = {k: v for k, v in os.environ.items() if k != "MODELFORGE_UNSLOTH_CPU"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    code = "import forge, sys; print(json.dumps([m in sys.modules for m in ('unsloth', 'torch', 'transformers')]))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False, False]


# ---- with Unsloth installed -------------------------------------------------------------------

ORDER_PROBE = """
import json, sys, time
order = []
class Recorder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if "." not in name and name not in order:
            order.append(name)
        return None
sys.meta_path.insert(0, Recorder)
PRE
t0 = time.perf_counter()
import forge
seconds = time.perf_counter() - t0
from forge.providers.unsloth import preload_state
import trl.trainer.utils as tu
s = preload_state()
print(json.dumps({"order": order, "status": s.status, "detail": s.detail, "seconds": seconds,
                  "trl_patched": bool(getattr(tu._ChunkedLogProbFunction, "_unsloth_cpu_dispatch", False))}))
"""


def _probe(pre: str = "") -> dict:
    env = dict(os.environ, MODELFORGE_UNSLOTH_CPU="1", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", ORDER_PROBE.replace("PRE", pre)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_unsloth
def test_import_forge_imports_unsloth_before_transformers_trl_peft():
    r = _probe()
    assert r["status"] == "ok", r
    order = r["order"]
    for lib in ("torch", "transformers", "trl", "peft"):
        assert order.index("unsloth") < order.index(lib), (lib, order[:20])
    if not _cuda():  # Unsloth's CPU backend re-routed TRL's Triton-only loss kernel
        assert r["trl_patched"]
    print(f"import forge with unsloth: {r['seconds']:.1f} s")


@needs_unsloth
def test_unsloth_imported_late_is_reported():
    r = _probe(pre="import transformers, peft")
    assert r["status"] == "late"
    assert "after transformers, peft" in r["detail"]


# ---- a real run through the provider ------------------------------------------------------------

TEXTS = [f"Captain {n} says: arr, hoist the sails and find the treasure, matey!" for n in
         ("Jack", "Anne", "Mary", "Will", "Ben", "Grace", "Ned", "Kidd")]


@needs_training
def test_train_through_unsloth_and_load_back_with_huggingface(tiny_model, tmp_path):
    """The tiny random Llama of conftest (hidden 64, 2 layers, SmolLM2 tokenizer), LoRA r=8, 20 steps."""
    import torch
    from datasets import Dataset
    from peft import PeftModel
    from trl import SFTConfig, SFTTrainer

    from forge import catalog

    resolved = catalog.resolve(str(tiny_model))
    config = RunConfig(model_name=str(tiny_model), lora_r=8, lora_alpha=16, lora_dropout=0.0,
                       max_seq_length=64, bf16=False, fp16=False, gradient_checkpointing=False, seed=0)
    provider, why = choose_provider(config, resolved)
    assert provider.name == "unsloth", why
    loaded = provider.load(resolved, config)
    assert loaded.provider == "unsloth" and loaded.peft_applied
    assert any("Unsloth" in n for n in loaded.notes)
    model, tok = loaded.model, loaded.tokenizer
    assert isinstance(model, PeftModel)
    lora = {n for n, _ in model.named_parameters() if "lora_A" in n}
    assert {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in lora} == set(unsloth_provider.ALL_LINEAR)

    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=20, per_device_train_batch_size=4,
                     learning_rate=5e-3, lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
                     use_cpu=not _cuda(), bf16=False, fp16=False, report_to="none", max_length=64, seed=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": TEXTS * 4}),
                         processing_class=tok)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 20
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5, losses

    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    assert (adapter / "adapter_config.json").is_file()
    probe = tok(TEXTS[0], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        trained = model(**{k: v.to(model.device) for k, v in probe.items()}).logits.float().cpu()

    # The huggingface path: plain transformers for the base, PEFT for the adapter.
    hf = get_provider("huggingface")
    base = hf.load(resolved, config.model_copy(update={"provider": "huggingface"})).model.eval()
    with torch.no_grad():
        base_logits = base(**probe).logits.float()
    reloaded = PeftModel.from_pretrained(base, adapter).eval()
    with torch.no_grad():
        adapted = reloaded(**probe).logits.float()
    assert not torch.allclose(adapted, base_logits, atol=1e-3)
    # Same weights, so the same logits (looser on a GPU, where Unsloth's kernels computed them).
    assert torch.allclose(adapted, trained, atol=5e-2 if _cuda() else 1e-3), (adapted - trained).abs().max()


@needs_unsloth
@pytest.mark.parametrize("gpu, strategy, expected, reason", [
    (True, "sft", "unsloth", "auto: available and supports this model"),
    (True, "dpo", "unsloth", "auto: available and supports this model"),
    (True, "rlhf", "huggingface", "Unsloth does not train the 'rlhf' strategy"),
    (False, "sft", "huggingface", "no CUDA GPU found"),
])
def test_auto_choice_with_unsloth_installed(tmp_path, monkeypatch, gpu, strategy, expected, reason):
    """Unsloth installed: auto takes it on a CUDA machine for the strategies it patches, and
    huggingface otherwise, saying why. The GPU is the one thing simulated (``torch.cuda``)."""
    import torch

    monkeypatch.delenv("MODELFORGE_UNSLOTH_CPU", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    provider, why = choose_provider(RunConfig(strategy=strategy), _fake_model(tmp_path, "llama"))
    assert provider.name == expected and reason in why, why


@needs_training
def test_a_job_on_auto_trains_through_unsloth_and_the_playground_loads_it(tiny_config, tiny_model):
    """The user's path: a run with provider auto goes through Unsloth (the record and the log say
    so and why), and the Playground loads the adapter back with plain transformers + PEFT."""
    import torch

    from forge.inference import load_model
    from forge.refs import resolve_spec, spec_from_record
    from forge.runs import get_store
    from forge.training import get_queue, read_all

    q = get_queue()
    rec = q.wait(q.submit(tiny_config(max_steps=12, eval_samples=0))["id"], timeout=600)
    assert rec["status"] == "completed", rec.get("error")
    assert rec["provider"] == "unsloth" and rec["provider_reason"] == "unsloth (auto: available and supports this model)"
    events = read_all(rec["events_path"])
    logs = [e["message"] for e in events if e["kind"] == "log"]
    assert "Provider: unsloth (auto: available and supports this model)" in logs
    assert any("FastLanguageModel" in m for m in logs) and any("applied by Unsloth" in m for m in logs)
    losses = [e["loss"] for e in events if e["kind"] == "metrics" and "loss" in e]
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3]), losses

    model_rec = next(m for m in get_store().list_models() if m.get("run_id") == rec["id"])
    tuned = load_model(spec_from_record(model_rec))
    assert tuned.has_adapter
    base = load_model(resolve_spec(str(tiny_model)))
    probe = tuned.tokenizer("Ahoy there, matey!", return_tensors="pt")
    with torch.no_grad():
        assert not torch.allclose(tuned.model(**probe).logits, base.model(**probe).logits, atol=1e-5)


def test_the_form_says_which_provider_auto_will_use(without_unsloth):
    """Without Unsloth: auto says huggingface and why; picking unsloth blocks Start with the install command."""

    ok, text = provider_markdown("auto", "sft")
    assert ok and text.startswith("auto will use huggingface (unsloth: Unsloth is not installed")
    ok, text = provider_markdown("unsloth", "sft")
    assert not ok and text.startswith("⚠ The unsloth provider cannot run this here")
    assert "pip install -r requirements-gpu.txt" in text and "Choose auto" in text
    assert provider_markdown("huggingface", "rlhf")[0]


@needs_unsloth
def test_the_form_and_the_run_refuse_a_strategy_unsloth_does_not_train(tmp_path, monkeypatch):
    import torch


    monkeypatch.delenv("MODELFORGE_UNSLOTH_CPU", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the one thing simulated: a GPU
    ok, text = provider_markdown("unsloth", "rlhf")
    assert not ok and "Unsloth does not train the 'rlhf' strategy" in text
    assert provider_markdown("auto", "dpo") == (True, "auto will use unsloth when it supports the model's "
                                                      "architecture, huggingface otherwise; the run's log says "
                                                      "which ran and why.")
    with pytest.raises(UnavailableError) as e:
        choose_provider(RunConfig(provider="unsloth", strategy="rlhf"), _fake_model(tmp_path, "llama"))
    assert "'rlhf'" in str(e.value) and "How to fix: Choose provider auto" in str(e.value)
    with pytest.raises(UnavailableError) as e:
        choose_provider(RunConfig(provider="unsloth"), _fake_model(tmp_path, "gpt2"))
    assert "'gpt2' architecture" in str(e.value)
