import time

import pytest

from forge import catalog
from forge.config import EMBEDDED_MODEL
from forge.errors import ModelNotFoundError, OfflineError


def test_embedded_default_resolves_offline_to_safetensors(embedded_path):
    r = catalog.resolve(EMBEDDED_MODEL)
    assert r.source in ("embedded", "hub-cache")
    assert (r.path / "config.json").is_file()
    assert any(r.path.glob("*.safetensors"))
    assert (r.path / "tokenizer.json").is_file()


def test_embedded_copy_loads_fast_and_has_chat_template(embedded_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t = time.time()
    m = AutoModelForCausalLM.from_pretrained(embedded_path)
    assert time.time() - t < 10  # the GGUF route takes ~20 s; the cached copy about a second
    tok = AutoTokenizer.from_pretrained(embedded_path)
    assert tok.chat_template
    assert 130e6 < sum(p.numel() for p in m.parameters()) < 140e6
    assert not hasattr(m.config, "quantization_config")


def test_hub_id_offline_fails_fast_naming_id():
    t = time.time()
    with pytest.raises(OfflineError) as e:
        catalog.resolve("someone/not-cached-model")
    assert time.time() - t < 5
    assert "someone/not-cached-model" in str(e.value) and "offline" in str(e.value)


def test_local_folder(tiny_model):
    r = catalog.resolve(str(tiny_model))
    assert r.source == "local" and r.path == tiny_model.resolve() and not r.is_adapter


def test_folder_without_model_is_explained(tmp_path):
    with pytest.raises(ModelNotFoundError, match="config.json"):
        catalog.resolve(str(tmp_path))


def test_nonsense_reference():
    with pytest.raises(ModelNotFoundError, match="not found"):
        catalog.resolve("./no/such/folder")
