"""The one model-reference resolver (forge.refs): records by id, name or run id; base models by the
embedded name, a models/ folder, a path (sandboxed from the page) or a Hub id. No model is loaded."""

import json
import uuid

import pytest

from forge import refs
from forge.config import EMBEDDED_MODEL
from forge.errors import BusyError, ConfigError, ModelNotFoundError, SandboxError
from forge.runs import RunStore
from forge.settings import get_settings


def _model_folder(parent, name, adapter_of=None):
    folder = parent / name
    folder.mkdir(parents=True)
    if adapter_of:
        (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": adapter_of}))
    else:
        (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "db.json")


@pytest.fixture
def named():
    """A model folder in the home's models/ (unique name)."""
    return _model_folder(get_settings().models_dir, f"refs-{uuid.uuid4().hex[:6]}")


def test_base_references_are_checked_without_downloading(named, tmp_path):
    assert refs.base_ref("embedded") == refs.BaseRef(EMBEDDED_MODEL, "embedded")
    assert refs.base_ref(" org/some-model ") == refs.BaseRef("org/some-model", "hub")  # nothing fetched
    b = refs.base_ref(named.name, sandbox=True)  # a bare name is a folder of models/
    assert b == refs.BaseRef(str(named.resolve()), "folder") and b.label == named.name
    outside = _model_folder(tmp_path, "outside")
    for ref in (str(outside), "/etc", "~", "../../.."):
        with pytest.raises(SandboxError, match="Put the model folder in"):
            refs.base_ref(ref, sandbox=True)
    assert refs.base_ref(str(outside)).reference == str(outside.resolve())  # the CLI may name any folder
    with pytest.raises(ModelNotFoundError) as e:
        refs.base_ref("no-such-model", sandbox=True)
    assert "There is no model named 'no-such-model'" in str(e.value) and "outside" not in str(e.value)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        refs.base_ref(str(get_settings().models_dir / "gone" / "deeper"), sandbox=True)
    with pytest.raises(ModelNotFoundError, match="No model was chosen"):
        refs.base_ref("  ")


def test_records_by_id_name_or_run_id(store, named, tmp_path):
    run = store.create_run({"id": "run-done", "status": "completed"})
    rec = store.add_model({"name": "Pirate voice", "run_id": run["id"], "kind": "full", "path": str(named),
                           "base_model": EMBEDDED_MODEL})
    for ref in (rec["id"], "Pirate voice", "run-done"):
        assert refs.record(ref, store)["id"] == rec["id"]
    assert refs.find_record("nothing", store) is None and refs.find_record("", store) is None
    with pytest.raises(ModelNotFoundError, match="no fine-tuned model or run 'nothing'"):
        refs.record("nothing", store)

    store.create_run({"id": "run-live", "status": "running"})
    with pytest.raises(BusyError, match="still running"):
        refs.resolve_spec("run-live", store=store)
    store.create_run({"id": "run-failed", "status": "failed"})
    with pytest.raises(ModelNotFoundError, match="saved no model"):
        refs.find_record("run-failed", store)

    gone = store.add_model({"name": "gone", "kind": "full", "path": str(tmp_path / "deleted")})
    with pytest.raises(ModelNotFoundError, match="files of model 'gone' are missing"):
        refs.record(gone["id"], store)


def test_specs_for_records_adapters_and_their_base(store, named, tmp_path):
    rec = store.add_model({"name": "tuned", "kind": "full", "path": str(named), "base_model": "org/base",
                           "task": "chat"})
    spec = refs.resolve_spec("tuned", store=store)
    assert (spec.model_id, spec.path, spec.kind, spec.task, spec.base_reference) == \
        (rec["id"], named, "full", "chat", "org/base")
    assert spec.fine_tuned and not spec.is_adapter

    adapter = _model_folder(get_settings().models_dir, f"refs-adapter-{uuid.uuid4().hex[:6]}", adapter_of=str(named))
    a = refs.resolve_spec(adapter.name, sandbox=True, store=store)
    assert a.is_adapter and a.kind == "adapter" and a.base_reference == str(named.resolve())
    base = refs.base_spec_of(a)
    assert base.path == named.resolve() and base.label.endswith("(base)")

    plain = refs.resolve_spec(str(named), store=store)
    assert plain.kind == "base" and not plain.fine_tuned and plain.label == named.name
    with pytest.raises(ConfigError, match="nothing to compare"):
        refs.base_spec_of(plain)
