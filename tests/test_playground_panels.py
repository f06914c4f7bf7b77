"""The Playground tab's handlers called directly, without a server or a browser: each returns
``{component: value}`` for the panels it fills. The answers come from the tiny model for real."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import gradio as gr
import pytest

from forge import inference
from forge.runs import get_store
from forge.ui import playground as pg

GREEDY_SHORT = {"temperature": 0, "max_new_tokens": 6, "repetition_penalty": 1.0}


@pytest.fixture
def p() -> pg.Playground:
    with gr.Blocks():
        return pg.Playground(pg.picker_panel(), pg.chat_panel(), pg.settings_panel())


@pytest.fixture
def fine_tuned(tiny_model):
    """A model record of kind "full" whose base is the tiny model (no training needed to compare)."""
    rec = get_store().add_model({"name": "panel-full", "path": str(tiny_model), "kind": "full",
                                 "base_model": str(tiny_model), "task": "text-generation", "files_ok": True})
    yield rec
    get_store().delete_model(rec["id"])
    inference.unload()


def values(p: pg.Playground, model: str, **over) -> dict:
    """What a Send reads, by component: a chat message to ``model``, greedy and short."""
    c, s = p.chat, p.settings
    v = {p.picker.model: model, c.mode: "chat", c.compare: False, c.message: "Ahoy!", c.document: "",
         c.context: "", c.question: "", c.conv: [], c.base_conv: [], s.system: "", s.temperature: 0.0, s.top_p: 0.9,
         s.top_k: 50, s.max_new_tokens: 6, s.repetition_penalty: 1.0}
    v.update({getattr(c, k) if hasattr(c, k) else getattr(s, k): val for k, val in over.items()})
    assert set(v) == pg.send_inputs(p)
    return v


def send(p: pg.Playground, v: dict, session: str = "s1") -> list[dict]:
    return list(pg.on_send(p, SimpleNamespace(session_hash=session), v, progress=lambda *a, **k: None))


def test_no_model_picked(p):
    out = pg.on_model(p, "")
    assert out[p.picker.info] == "Pick a model." and out[p.chat.mode] == "chat"
    assert out[p.chat.compare]["interactive"] is False and out[p.chat.compare]["value"] is False
    assert out[p.settings.temperature] == inference.GenerationSettings().temperature
    assert all(out[c] == [] for c in p.chat.conversations)


def test_a_fine_tuned_model_offers_compare_and_answers_greedily(p, fine_tuned):
    out = pg.on_model(p, fine_tuned["id"])
    assert "panel-full" in out[p.picker.info] and "fully fine-tuned model" in out[p.picker.info]
    assert "greedy" in out[p.picker.info] and out[p.settings.temperature] == 0.0
    assert out[p.chat.compare]["interactive"] is True and out[p.chat.mode] == "chat"


def test_an_unknown_model_is_said_plainly(p):
    out = pg.on_model(p, "no-such-model")
    assert out[p.picker.info].startswith("⚠") and "no-such-model" in out[p.picker.info]
    assert out[p.chat.compare]["interactive"] is False


def test_mode_shows_its_boxes_and_starts_a_new_conversation(p):
    out = pg.on_mode(p, "extractive-qa")
    assert out[p.chat.qa_row]["visible"] and not out[p.chat.message]["visible"]
    assert not out[p.chat.document]["visible"] and out[p.chat.conv] == []
    out = pg.on_mode(p, "summarization")
    assert out[p.chat.document]["visible"] and not out[p.chat.qa_row]["visible"]


def test_compare_starts_from_the_conversation_so_far(p):
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Arr"}]
    out = pg.on_compare(p, True, history)
    assert out[p.chat.base_chat]["visible"] and out[p.chat.base_chat]["value"] == history
    assert out[p.chat.base_conv] == history and out[p.chat.base_conv] is not history
    assert pg.on_compare(p, False, None)[p.chat.base_chat]["visible"] is False
    assert pg.on_clear(p) == {**{c: [] for c in p.chat.conversations}, p.chat.status: ""}


def test_send_streams_an_answer_into_the_chat(p, tiny_model):
    frames = send(p, values(p, str(tiny_model)))
    c = p.chat
    assert frames[0] == {c.status: "Loading tiny-llama…"} or frames[0][c.status] == "Answering…"
    first = next(f for f in frames if f.get(c.status) == "Answering…")
    assert first[c.message] == "" and first[c.chat][0] == {"role": "user", "content": "Ahoy!"}
    last = frames[-1]
    assert last[c.status].startswith("✓ Done. base model: ") and c.base_chat not in last
    assert last[c.conv] == last[c.chat] == last[c.base_conv] and last[c.conv][-1]["role"] == "assistant"
    # the conversation goes on from what was kept
    again = send(p, values(p, str(tiny_model), message="And?", conv=last[c.conv]))[-1]
    assert [m["content"] for m in again[c.conv] if m["role"] == "user"] == ["Ahoy!", "And?"]
    assert send(p, values(p, str(tiny_model), message="  ")) == [{c.status: "Type a message first."}]


def test_compare_answers_with_both_models(p, fine_tuned):
    frames = send(p, values(p, fine_tuned["id"], compare=True))
    last = frames[-1]
    c = p.chat
    assert "fine-tuned: " in last[c.status] and " · base: " in last[c.status]
    assert last[c.base_chat][-1]["role"] == "assistant" and last[c.base_conv] == last[c.base_chat]
    assert last[c.chat][0] == last[c.base_chat][0] == {"role": "user", "content": "Ahoy!"}


def test_task_modes_show_the_prompt_as_formatted(p, tiny_model):
    v = values(p, str(tiny_model), mode="summarization", message="", document="  A long text.  ")
    last = send(p, v)[-1]
    assert last[p.chat.chat][0]["content"] == "**Summarize:**\n\nA long text." and last[p.chat.status].startswith("✓")
    assert p.chat.message not in last


def test_an_error_shows_in_the_status_line(p):
    frames = send(p, values(p, "no-such-model"))
    assert len(frames) == 1 and frames[0][p.chat.status].startswith("⚠ ")
    assert "no-such-model" in frames[0][p.chat.status]
    bad = send(p, values(p, "no-such-model", top_k=-3))
    assert bad[0][p.chat.status].startswith("⚠ ")


def test_stop_ends_this_pages_answer(p, tiny_model):
    answer = pg.on_send(p, SimpleNamespace(session_hash="mine"), values(p, str(tiny_model), max_new_tokens=400),
                        progress=lambda *a, **k: None)
    while next(answer).get(p.chat.status) != "Answering…":
        pass
    asyncio.run(pg.on_stop(SimpleNamespace(session_hash="other")))  # another page's Stop changes nothing here
    asyncio.run(pg.on_stop(SimpleNamespace(session_hash="mine")))
    last = list(answer)[-1]
    assert last[p.chat.status].startswith("■ Stopped.")
    assert "mine" not in pg._STOPS


def test_the_api_streams_loads_and_unloads(tiny_model):
    texts = list(pg.generate(str(tiny_model), prompt="Ahoy!", settings=GREEDY_SHORT))
    assert texts and all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    info = pg.load_model_api(str(tiny_model))
    assert info["device"] == "cpu"
    out = pg.unload_api("")
    assert out["released"] and out["loaded"] == []
    with pytest.raises(Exception, match="no-such-model"):
        pg.load_model_api("no-such-model")


def test_pickers_offer_the_new_model(fine_tuned):
    assert pg.first_model()["value"] == fine_tuned["id"]  # the newest fine-tuned model first
    get_store().update_model(fine_tuned["id"], run_id="run-x")
    assert pg.offer_run_model("run-x")["value"] == fine_tuned["id"]
    assert "value" not in pg.offer_run_model("no-such-run")
