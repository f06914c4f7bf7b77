"""The engine behind the Models and Playground tabs, on the tiny model for real: adapters, merging,
exporting, deleting, streaming generation, stop, the chat template, the model registry."""

from __future__ import annotations

import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest

from forge import export, inference, models, refs
from forge.errors import BusyError, ConfigError, ModelNotFoundError
from forge.runs import get_store

TEXT = "Where did the pirates bury the treasure?"
GREEDY = {"temperature": 0, "repetition_penalty": 1.0}


def copy_model(rec: dict, name: str) -> dict:
    """A copy of a model (folder and record) that a test may change or delete."""
    from forge.settings import get_settings

    dest = get_settings().models_dir / f"copy-{name}-{time.time_ns()}"
    shutil.copytree(rec["path"], dest)
    fields = {k: v for k, v in rec.items() if k not in ("id", "created")}
    return get_store().add_model({**fields, "name": name, "path": str(dest)})


def logits(model, tokenizer, text: str = TEXT):
    import torch

    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits.float()


def test_adapter_changes_logits_and_merged_equals_base_plus_adapter(trained_adapter, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    tuned = inference.load_model(refs.spec_from_record(trained_adapter))
    assert tuned.has_adapter and tuned.base_path == Path(tiny_model).resolve()
    before, after = logits(base, tok), logits(tuned.model, tok)
    assert (before - after).abs().max().item() > 1e-3, "the adapter changes the logits"

    seen = []
    merged = export.merge(trained_adapter["id"], progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0
    folder = Path(merged["folder"])
    for f in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja"):
        assert (folder / f).is_file(), f
    assert not (folder / "adapter_config.json").exists()
    rec = get_store().get_model(merged["id"])
    assert rec["kind"] == "merged" and rec["source_model"] == trained_adapter["id"]
    assert rec["base_model"] == trained_adapter["base_model"] and rec["task"] == trained_adapter["task"]
    standalone = AutoModelForCausalLM.from_pretrained(folder)
    assert torch.allclose(logits(standalone, tok), after, atol=1e-4)
    # the merged model carries the chat template it was trained with
    assert (folder / "chat_template.jinja").read_text() == (Path(trained_adapter["path"]) / "chat_template.jinja").read_text()
    with pytest.raises(ConfigError, match="only a LoRA adapter"):
        export.merge(merged["id"])
    models.delete(merged["id"])


def test_qlora_adapter_merges_into_full_precision_base_with_a_note(tiny_config):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forge.training import get_queue

    q = get_queue()
    run = q.wait(q.submit(tiny_config(strategy="qlora", max_steps=6, eval_split=0))["id"], timeout=600)
    assert run["status"] == "completed", run.get("error")
    rec = next(m for m in get_store().list_models() if m.get("run_id") == run["id"])
    assert rec["quantized_base"]
    merged = export.merge(rec["id"])
    assert any("4-bit" in n and "full-precision" in n for n in merged["notes"])
    assert get_store().get_model(merged["id"])["merged_from_quantized"] is True
    tuned = inference.load_model(refs.spec_from_record(rec))  # on CPU: the full-precision base
    assert any("full-precision" in n for n in tuned.notes)
    tok = AutoTokenizer.from_pretrained(merged["folder"])
    standalone = AutoModelForCausalLM.from_pretrained(merged["folder"])
    assert torch.allclose(logits(standalone, tok), logits(tuned.model, tok), atol=1e-4)


def test_generation_streams_and_honours_max_new_tokens(trained_adapter):
    reg = inference.ModelRegistry()
    stats = inference.GenerationStats()
    pieces = list(inference.stream(trained_adapter["id"], [{"role": "user", "content": "Hi"}],
                                   {**GREEDY, "max_new_tokens": 16}, stats=stats, registry=reg))
    assert len(pieces) > 1, pieces
    assert stats.tokens == [16] and not stats.stopped
    assert stats.time_to_first_token is not None and stats.time_to_first_token <= stats.seconds
    m = reg.get_loaded(refs.spec_from_record(trained_adapter).key)
    ids = m.tokenizer("".join(pieces), add_special_tokens=False)["input_ids"]
    assert 0 < len(ids) <= 16 + 2  # decoding and re-encoding may split a word differently

    # joined pieces (what the page asks for): the first at once, then at most one update per `every`
    joined = list(inference.stream(trained_adapter["id"], [{"role": "user", "content": "Hi"}],
                                   {**GREEDY, "max_new_tokens": 16}, every=60, registry=reg))
    assert joined[0] == pieces[0] and len(joined) == 2 and "".join(joined) == "".join(pieces)

    sampled = inference.GenerationStats()
    text = "".join(inference.stream(trained_adapter["id"], [{"role": "user", "content": "Hi"}],
                                    {"temperature": 1.0, "top_p": 0.95, "top_k": 40, "max_new_tokens": 5},
                                    stats=sampled, registry=reg))
    assert text and sampled.tokens[0] <= 5


def test_stop_ends_generation_at_once(trained_adapter):
    reg = inference.ModelRegistry()
    stop = threading.Event()
    stats = inference.GenerationStats()
    got = []
    for piece in inference.stream(trained_adapter["id"], [{"role": "user", "content": "Hi"}],
                                  {**GREEDY, "max_new_tokens": 4000}, stop=stop, stats=stats, registry=reg):
        got.append(piece)
        if len(got) == 3:
            stop.set()
            t_stop = time.perf_counter()
    assert stats.stopped and stats.tokens[0] < 100, stats.to_dict()
    assert stats.finished - t_stop < 2.0
    m = reg.get_loaded(refs.spec_from_record(trained_adapter).key)
    assert not m.lock.locked() and m.active == 0

    # a reader that walks away also ends the generation
    gen = inference.stream(trained_adapter["id"], [{"role": "user", "content": "Hi"}],
                           {**GREEDY, "max_new_tokens": 4000}, registry=reg)
    next(gen)
    gen.close()
    deadline = time.time() + 5
    while m.lock.locked() and time.time() < deadline:
        time.sleep(0.02)
    assert not m.lock.locked()


def test_compare_streams_both_sides(trained_adapter):
    reg = inference.ModelRegistry()
    out = ["", ""]
    rows = []
    stats = inference.GenerationStats()
    for row, piece in inference.stream_compare(trained_adapter["id"], [{"role": "user", "content": TEXT}],
                                               {**GREEDY, "max_new_tokens": 12}, stats=stats, registry=reg):
        out[row] += piece
        rows.append(row)
    assert set(rows) == {0, 1} and stats.tokens == [12, 12]
    assert len(reg.loaded()) == 1, "an adapter answers for its base too: one model in memory"
    # each side equals what that model alone answers (greedy)
    alone = "".join(inference.stream(trained_adapter["id"], [{"role": "user", "content": TEXT}],
                                     {**GREEDY, "max_new_tokens": 12}, registry=reg))
    base = "".join(inference.stream(trained_adapter["base_model"], [{"role": "user", "content": TEXT}],
                                    {**GREEDY, "max_new_tokens": 12}, registry=reg))
    assert out == [alone, base]
    with pytest.raises(ConfigError, match="nothing to compare"):
        list(inference.stream_compare(trained_adapter["base_model"], [{"role": "user", "content": "x"}], registry=reg))


def test_playground_prompt_is_the_training_prompt(trained_adapter, tiny_model, tmp_path):
    """The same conversation gives the same token ids as TRL's SFT tokenization of the prompt."""
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from forge.data import sft_dataset

    m = inference.load_model(refs.spec_from_record(trained_adapter))
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    chat = [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Ahoy!"}, {"role": "user", "content": "Where is it?"},
            {"role": "assistant", "content": "Buried."}]
    cases = [
        ("text-generation", {"input": TEXT, "output": "On the island."},
         inference.build_messages("chat", prompt=TEXT)),
        ("summarization", {"document": "The ship sailed at dawn. " * 4, "summary": "A ship sailed."},
         inference.build_messages("summarization", document="The ship sailed at dawn. " * 4)),
        ("extractive-qa", {"context": "The treasure is on Skull Island.", "question": "Where is the treasure?",
                           "answers": {"text": ["Skull Island"]}},
         inference.build_messages("extractive-qa", context="The treasure is on Skull Island.",
                                  question="Where is the treasure?")),
        ("chat", {"messages": chat},
         inference.with_system(inference.build_messages("chat", history=chat[1:3], prompt="Where is it?"),
                                "Talk like a pirate.")),
    ]
    for task, row, playground in cases:
        trainer = SFTTrainer(model=base, train_dataset=sft_dataset([row], task), processing_class=m.tokenizer,
                             args=SFTConfig(output_dir=str(tmp_path / task), report_to=[], max_length=1024,
                                            completion_only_loss=True, use_cpu=True))
        example = trainer.train_dataset[len(trainer.train_dataset) - 1]
        labels = list(example["labels"])  # -100 on the prompt, whose loss is not computed
        prompt_len = next(i for i, v in enumerate(labels) if v != -100)
        ours = m.encode(playground)["input_ids"][0].tolist()
        assert ours == list(example["input_ids"][:prompt_len]), task


def test_build_messages_uses_the_training_format():
    from forge.data.tasks import prompt_messages

    assert inference.build_messages("summarization", document="Doc.") == \
        prompt_messages({"document": "Doc."}, "summarization")
    assert inference.build_messages("extractive-qa", context="C.", question="Q?", system="S") == \
        prompt_messages({"context": "C.", "question": "Q?"}, "extractive-qa", "S")
    msgs = inference.build_messages("chat", history=[{"role": "user", "content": [{"type": "text", "text": "a"}]},
                                                     {"role": "assistant", "content": "b"}], prompt="c")
    assert msgs == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"}]
    with pytest.raises(ConfigError):
        inference.build_messages("chat", prompt="")
    with pytest.raises(ConfigError, match="temperature"):
        inference.GenerationSettings.from_dict({"temperature": -1})
    with pytest.raises(ConfigError, match="Unknown generation setting"):
        inference.GenerationSettings.from_dict({"temprature": 1})
    assert inference.GenerationSettings.from_dict({"temperature": 0}).generate_kwargs()["do_sample"] is False


def test_registry_keeps_switches_and_answers_two_users_at_once(trained_adapter, tiny_model):
    loads = []

    def counting_loader(spec, progress=None):
        loads.append(spec.key)
        return inference.load_model(spec, progress)

    reg = inference.ModelRegistry(capacity=1, loader=counting_loader)
    tuned = refs.spec_from_record(trained_adapter)
    base = refs.resolve_spec(str(tiny_model))
    msgs = [{"role": "user", "content": "Hi"}]
    for _ in range(2):
        "".join(inference.stream(tuned, msgs, {**GREEDY, "max_new_tokens": 2}, registry=reg))
    assert loads == [tuned.key], "the model stays loaded between messages"
    "".join(inference.stream(base, msgs, {**GREEDY, "max_new_tokens": 2}, registry=reg))
    assert [m["key"] for m in reg.loaded()] == [base.key], "switching released the old model"

    # two users at once: the same model, and two different models; everyone gets an answer
    results: dict[str, str] = {}

    def chat(name, spec):
        results[name] = "".join(inference.stream(spec, msgs, {**GREEDY, "max_new_tokens": 24}, registry=reg))

    threads = [threading.Thread(target=chat, args=(n, s)) for n, s in
               (("a", tuned), ("b", tuned), ("c", base))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(results) == {"a", "b", "c"} and all(results.values()) and results["a"] == results["b"]
    assert reg.unload() and reg.loaded() == []


def test_delete_removes_files_and_record_and_refuses_while_in_use(trained_adapter, live_run):
    copy = copy_model(trained_adapter, "to-delete")
    folder = Path(copy["path"])
    reg = inference.ModelRegistry()

    # the Playground answering with it
    stop = threading.Event()
    gen = inference.stream(copy["id"], [{"role": "user", "content": "Hi"}], {**GREEDY, "max_new_tokens": 4000},
                           stop=stop, registry=reg)
    next(gen)
    with pytest.raises(BusyError, match="Playground"):
        models.delete(copy["id"], registry=reg)
    stop.set()
    list(gen)
    # a run training on it
    run = live_run("training-on-it", {"model_name": str(folder)})
    with pytest.raises(BusyError, match="training-on-it"):
        models.delete(copy["id"], registry=reg)
    get_store().update_run(run["id"], status="stopped")

    zipped = export.archive(copy["id"])
    # what the confirmation lists is what goes, and the bytes freed add up to it
    listed = models.deletion_targets(copy["id"])
    assert [str(t) for t, _, _ in listed] == [str(folder), str(zipped.parent)]
    listed_bytes = sum(models.folder_size(t) for t, _, owned in listed if owned)
    result = models.delete(copy["id"], registry=reg)
    assert not folder.exists() and not zipped.exists()
    assert get_store().get_model(copy["id"]) is None
    assert result["freed_bytes"] == listed_bytes > 0 and result["removed"] == [str(t) for t, _, _ in listed]
    assert reg.loaded() == [], "the idle model was released before its files went"
    assert copy["id"] not in [m["id"] for m in models.list_models()]
    with pytest.raises(ModelNotFoundError):
        models.delete(copy["id"], registry=reg)


def test_missing_files_are_flagged_not_fatal(trained_adapter):
    copy = copy_model(trained_adapter, "vanishing")
    shutil.rmtree(copy["path"])
    listed = {m["id"]: m for m in models.list_models()}
    assert listed[copy["id"]]["files_ok"] is False and listed[copy["id"]]["size_bytes"] is None
    assert listed[trained_adapter["id"]]["files_ok"] is True
    assert listed[trained_adapter["id"]]["size_bytes"] > 0
    assert isinstance(listed[trained_adapter["id"]]["train_loss"], float)
    assert models.detail(copy["id"])["files_ok"] is False
    with pytest.raises(ModelNotFoundError, match="missing"):
        refs.resolve_spec(copy["id"])
    with pytest.raises(ModelNotFoundError, match="missing"):
        export.archive(copy["id"])
    assert models.delete(copy["id"])["deleted"] == copy["id"]


def test_rename_and_export_zip(trained_adapter, tmp_path):
    copy = copy_model(trained_adapter, "to-rename")
    assert models.rename(copy["id"], "  Pirate   voice ")["name"] == "Pirate voice"
    assert refs.resolve_spec("Pirate voice", sandbox=True).model_id == copy["id"]  # by its name too
    with pytest.raises(ConfigError):
        models.rename(copy["id"], "   ")
    seen = []
    path = export.archive(copy["id"], progress=lambda f, m: seen.append((f, m)))
    assert path.suffix == ".zip" and path.name.startswith("Pirate-voice")
    assert seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja"} <= names
        z.extractall(tmp_path / "unzipped")
    from peft import PeftConfig

    assert PeftConfig.from_pretrained(tmp_path / "unzipped").base_model_name_or_path
    assert export.archive(copy["id"]) == path  # unchanged folder: the archive is reused
    models.delete(copy["id"])


def test_sandbox_for_page_references(tmp_path):
    outside = tmp_path / "model"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    from forge.errors import SandboxError

    with pytest.raises(SandboxError):
        refs.resolve_spec(str(outside), sandbox=True)
    with pytest.raises(SandboxError):
        refs.resolve_spec("/etc", sandbox=True)
    assert refs.resolve_spec("tiny-llama", sandbox=True).path.name == "tiny-llama"
    from forge.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError) as e:
        refs.resolve_spec("no-such-model", sandbox=True)
    assert "There is no model named 'no-such-model'" in str(e.value) and "outside" not in str(e.value)
    assert refs.resolve_spec(str(outside)).path == outside.resolve()  # trusted callers (CLI) may
