"""GGUF export for real, on the tiny model: llama.cpp's converter writes the file, transformers' GGUF
reader loads it back (the gguf library unpacks the 4-bit one), and the answers or weights are
compared with the source. From the engine, the CLI, the API (gradio_client) and the Playground; and
the bad inputs (a run still training, an unsupported architecture, a full disk, a failing
conversion) refused with nothing half-written left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forge import gguf_export, inference, models, refs
from forge.errors import BusyError, ConfigError, ForgeError
from forge.runs import get_store

TEXT = "Where did the pirates bury the treasure?"


def _logits(model, tok, text: str = TEXT):
    import torch

    with torch.no_grad():
        return model(**tok(text, return_tensors="pt")).logits.float()[0]


def _reader_fields(path: Path) -> tuple[dict, dict]:
    """The file's metadata keys and its tensors by name, read with the gguf library."""
    import gguf

    r = gguf.GGUFReader(path)
    return dict(r.fields.items()), {t.name: t for t in r.tensors}


def _partials() -> list[Path]:
    from forge.settings import get_settings

    return [p for p in get_settings().models_dir.glob(".*partial*")]


def test_f16_and_q4_0_files_carry_the_chat_template_and_read_back(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    source = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    sizes = gguf_export.estimate_sizes(str(tiny_model))
    assert sizes["f16"] > sizes["q8_0"] > sizes["q4_0"]
    seen: list[tuple[float, str]] = []
    for quant in ("f16", "q4_0"):
        rec = gguf_export.export_gguf(str(tiny_model), quant, progress=lambda f, m: seen.append((f, m)))
        assert rec["kind"] == "gguf" and rec["files_ok"]
        path = gguf_export.gguf_path(get_store().get_model(rec["id"]))
        assert path.name == f"tiny-llama.{quant}.gguf"
        assert 0.75 < path.stat().st_size / sizes[quant] < 1.25, "the size shown before the export is right"
        fields, tensors = _reader_fields(path)
        assert "<|im_start|>" in bytes(fields["tokenizer.chat_template"].parts[-1]).decode()
        assert tensors["blk.0.attn_q.weight"].tensor_type.name == quant.upper()
        modelfile = (path.parent / "Modelfile").read_text()
        assert f"FROM ./{path.name}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile

        if quant == "f16":  # transformers reads the tokenizer and the model back (each read takes seconds)
            back_tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            assert back_tok(TEXT)["input_ids"] == tok(TEXT)["input_ids"]
            back = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
            a, b = _logits(source, tok), _logits(back, tok)
            assert (a - b).abs().max().item() < 1e-2
            assert (a.argmax(-1) == b.argmax(-1)).all()
        else:  # 4-bit: the weights unpacked from the file are close to the source's, not equal
            from gguf.quants import dequantize

            t = tensors["blk.0.ffn_down.weight"]
            w = source.model.layers[0].mlp.down_proj.weight.detach().numpy()
            diff = abs(dequantize(t.data, t.tensor_type) - w).max()
            assert 0 < diff < 0.5 * abs(w).max()
    assert seen[-1][0] == 1.0 and "Ready" in seen[-1][1] and any("Writing" in m for _, m in seen)
    assert not _partials()


def test_an_adapter_is_merged_first_through_the_cli_api_and_playground(trained_adapter, tiny_model, capsys):
    from gradio_client import Client

    from forge.cli import main
    from ui_server import running_app

    run_id = trained_adapter["run_id"]
    assert main(["export", run_id, "--quant", "q8_0", "--name", "pirate gguf"]) == 0
    out = capsys.readouterr()
    assert "GGUF sizes: f16 ~" in out.err and "Exported pirate gguf" in out.out
    rec = next(m for m in get_store().list_models() if m.get("name") == "pirate gguf")
    assert rec["kind"] == "gguf" and rec["source_model"] == trained_adapter["id"] and rec["run_id"] == run_id
    assert "merging the adapter" in rec["notes"][0]

    # the merged weights are in the file: its logits are the adapter's, not the base's
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tuned = inference.load_model(refs.spec_from_record(trained_adapter))
    path = gguf_export.gguf_path(rec)
    back = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    tuned_l, back_l, base_l = _logits(tuned.model, tok), _logits(back, tok), _logits(base, tok)
    assert (tuned_l - back_l).abs().max() < (tuned_l - base_l).abs().max()

    # the Playground (and so the OpenAI endpoint) answers with it
    answer = inference.generate_text(rec["id"], [{"role": "user", "content": TEXT}],
                                     {"temperature": 0, "max_new_tokens": 8})
    assert isinstance(answer, str)

    with running_app() as url:
        client = Client(url, verbose=False)
        api = client.predict(trained_adapter["id"], "f16", "", api_name="/export_gguf")
        assert api["kind"] == "gguf" and api["files_ok"] and api["folder"].endswith("-gguf-f16")
        with pytest.raises(Exception, match="not a GGUF type"):
            client.predict(trained_adapter["id"], "q3_k", "", api_name="/export_gguf")
    assert models.delete(rec["id"])["name"] == "pirate gguf"


def test_bad_inputs_are_refused_and_leave_nothing_behind(tiny_model, live_run, monkeypatch, tmp_path):
    from forge.settings import get_settings

    before = len(get_store().list_models())
    with pytest.raises(ConfigError, match="quant: 'q3' is not a GGUF type"):
        gguf_export.export_gguf(str(tiny_model), "q3")

    run = live_run("still training")
    with pytest.raises(BusyError, match="still running"):
        gguf_export.export_gguf(run["id"], "q8_0")

    odd = get_settings().models_dir / "odd-arch"
    shutil.copytree(tiny_model, odd)
    cfg = json.loads((odd / "config.json").read_text())
    (odd / "config.json").write_text(json.dumps({**cfg, "architectures": ["FancyNewForCausalLM"]}))
    with pytest.raises(ConfigError, match="does not support the architecture FancyNewForCausalLM"):
        gguf_export.export_gguf(str(odd), "q8_0")

    class Full:
        free = 1000

    monkeypatch.setattr(gguf_export.shutil, "disk_usage", lambda p: Full)
    with pytest.raises(ForgeError, match=r"Not enough disk space for the GGUF export: it needs about .* free"):
        gguf_export.export_gguf(str(tiny_model), "q4_0")
    monkeypatch.undo()

    broken = get_settings().models_dir / "broken-weights"
    shutil.copytree(tiny_model, broken)
    weights = broken / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])  # the header is whole, the tensors are cut short
    with pytest.raises(ForgeError, match="The GGUF conversion of 'broken-weights' failed"):
        gguf_export.export_gguf(str(broken), "f16")
    assert not _partials(), "a failed export leaves no half-written folder"
    assert not list(get_settings().models_dir.glob("broken-weights-gguf*"))
    assert len(get_store().list_models()) == before

    made = gguf_export.export_gguf(str(tiny_model), "q8_0")
    with pytest.raises(ConfigError, match="already a GGUF file"):
        gguf_export.export_gguf(made["id"], "q4_0")
