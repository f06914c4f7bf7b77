"""Playground tab: chat with a fine-tuned or a base model, streamed token by token.

Pick a fine-tuned model (or a base model: the embedded default, a Hub id, a folder), chat
with it, or use the task modes it was trained for (summarization, extractive QA: the prompt
is formatted exactly as in training). Compare answers the same prompt with the fine-tuned
model and its base side by side. The loaded model stays in memory between messages
(:mod:`forge.inference`); Unload frees it.

The tab is three panels (:func:`picker_panel`, :func:`chat_panel`, :func:`settings_panel`),
held together in a :class:`Playground`. The handlers are module-level functions that take the
``Playground`` first and return ``{component: value}``; ``build`` lays out the panels and wires
the events.

API endpoints: ``/generate`` and ``/compare`` (streamed text), ``/load_model``, ``/unload``.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from .. import refs
from ..config import EMBEDDED_MODEL
from .endpoint import endpoint
from .tables import md_code, md_text
from .widgets import bind, friendly_error

log = logging.getLogger(__name__)

WHERE = "the Playground tab"
MODE_CHOICES = [("Chat", "chat"), ("Summarization: document → summary", "summarization"),
                ("Extractive QA: context + question → answer", "extractive-qa")]
UPDATE_EVERY = 0.2  # seconds: the chat is redrawn at most 5 times a second, however fast the tokens come (each redraw costs the page tens of ms)
API_UPDATE_EVERY = 0.05  # seconds: /generate and /compare send at most 20 updates a second (the first at once)
SETTING_NAMES = ("system_prompt", "temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty")
GREEDY_NOTE = ("  \nAnswers are greedy (temperature 0), as in its run's evaluation: raise the temperature under "
               "Generation settings for varied answers.")
HIDDEN = {"api_visibility": "private", "show_progress": "hidden"}  # the page's own events: no API, no spinner

_STOPS: dict[str, threading.Event] = {}  # page session -> the stop of its answer in progress


def _warning(e: BaseException) -> str:
    """An error shown in the tab (not raised): what went wrong, and how to fix it."""
    return "⚠ " + friendly_error(e, WHERE)


# ---- plain helpers ---------------------------------------------------------------------------

def model_choices() -> list[tuple[str, str]]:
    """Fine-tuned models first (by id), then the embedded default and the folders of models/."""
    from ..inference import model_choices as choices

    return choices()


def describe(ref: str) -> dict[str, Any]:
    """What the picker shows about a reference, without loading it."""
    from .. import inference

    spec = refs.resolve_spec(ref, sandbox=True)
    loaded = inference.get_registry().get_loaded(spec.key)
    return {"spec": spec, "loaded": loaded.info() if loaded else None}


def not_fetched_yet(ref: str) -> str | None:
    """A note for a base model that would have to be downloaded (or converted) just to describe it:
    that happens when it is loaded, with progress, not when it is picked."""
    from .. import catalog
    from ..runs import get_store
    from ..settings import get_settings

    ref = ref.strip()
    if get_store().get_model(ref) is not None:
        return None
    if catalog.is_embedded(ref):
        converted = get_settings().cache_dir / "embedded" / "SmolLM2-135M-Instruct" / "model.safetensors"
        if converted.is_file() or catalog.hub_cached(EMBEDDED_MODEL):
            return None
        return (f"**{EMBEDDED_MODEL}** · base model (embedded default)  \nPrepared on first use (about 20 s), "
                "then it stays loaded: send a message or press Load.")
    if "/" in ref and not Path(ref).expanduser().exists() and catalog.HUB_ID.match(ref) and not ref.startswith("."):
        if catalog.hub_cached(ref):
            return None
        return (f"**{html.escape(ref)}** · base model from the Hugging Face Hub  \nDownloaded when it is loaded: "
                "send a message or press Load.")
    return None


def _model_line(spec) -> str:
    """The first line about a model: its name, what it is, what it was trained from and for."""
    if not spec.fine_tuned:
        return f"**{md_text(spec.label)}** · base model {md_code(spec.reference)}"
    what = {"adapter": "LoRA adapter", "full": "fully fine-tuned model", "merged": "merged model"}.get(
        spec.kind, spec.kind)
    text = (f"**{md_text(spec.label)}** · {what} on {md_code(spec.base_reference)}"
            + (f" · trained for {spec.task}" if spec.task else "")
            + f" · model id {md_code(spec.model_id)}")  # which record the name resolved to
    return text + (" · trained on a 4-bit base (QLoRA)" if spec.quantized_base else "")


def info_markdown(ref: str) -> tuple[str, str, bool]:
    """(markdown about the model, the mode that fits it, whether Compare applies)."""
    from .. import inference

    if not (ref or "").strip():
        return "Pick a model.", "chat", False
    pending = not_fetched_yet(ref)
    if pending:
        return pending, "chat", False
    try:
        d = describe(ref)
    except Exception as e:
        return _warning(e), "chat", False
    spec, loaded = d["spec"], d["loaded"]
    where = ("Loaded on " + loaded["device"].upper() if loaded
             else "Not loaded yet: it loads with the first message (or press Load).")
    text = _model_line(spec) + f"  \n{where}"
    for note in (loaded or {}).get("notes") or []:
        text += f"  \nℹ {note}"
    return text, inference.mode_for_task(spec.task), bool(spec.base_reference)


def info_text(ref: str) -> str:
    """The picker's markdown about ``ref`` (after a load, an unload or an answer)."""
    return info_markdown(ref)[0]


def settings_of(values: tuple | list) -> dict[str, Any]:
    """The generation settings the page gives, in ``SETTING_NAMES`` order; empty ones left out."""
    return {k: v for k, v in zip(SETTING_NAMES, values) if v is not None and v != ""}


def display_prompt(mode: str, message: str, document: str, context: str, question: str) -> str:
    """The user's turn as the chat shows it, in each mode."""
    if mode == "summarization":
        return f"**Summarize:**\n\n{document.strip()}"
    if mode == "extractive-qa":
        return f"**Context:** {context.strip()}\n\n**Question:** {question.strip()}"
    return message


def api_messages(model: str, prompt: str, messages: list | None, mode: str, document: str, context: str,
                 question: str, system: str = "") -> list[dict[str, str]]:
    """The prompt messages of an API request, in its mode."""
    from .. import inference

    if (mode or "chat") in ("chat", "text-generation"):
        return inference.build_messages("chat", history=messages or [], prompt=prompt or "")
    return inference.build_messages(mode, document=document or prompt or "", context=context or "",
                                    question=question or "")


def done_status(stats: dict[str, Any], compare: bool, fine_tuned: bool) -> str:
    """The status line when an answer has ended: done or stopped, tokens per model, speed."""
    done = "■ Stopped." if stats["stopped"] else "✓ Done."
    tps = f" · {stats['tokens_per_second']:.1f} tokens/s" if stats.get("tokens_per_second") else ""
    names = ["fine-tuned", "base"] if compare else ["fine-tuned" if fine_tuned else "base model"]
    counts = " · ".join(f"{n}: {t} tokens" for n, t in zip(names, stats["tokens"]))
    return f"{done} {counts}{tps}"


# ---- the panels ------------------------------------------------------------------------------

@dataclass
class Picker:
    """The model picker: which model answers, and whether it is in memory."""

    model: gr.Dropdown
    refresh: gr.Button
    load: gr.Button
    unload: gr.Button
    info: gr.Markdown


@dataclass
class Chat:
    """The conversation: the mode, the chats (the base model's beside, with Compare), what the
    models were given so far, the message boxes of each mode and the buttons."""

    mode: gr.Radio
    compare: gr.Checkbox
    chat: gr.Chatbot
    base_chat: gr.Chatbot
    conv: gr.State  # the conversation as plain messages (what the model sees)
    base_conv: gr.State
    message: gr.Textbox
    document: gr.Textbox
    qa_row: gr.Row
    context: gr.Textbox
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    status: gr.Markdown

    @property
    def conversations(self) -> list[Any]:
        """The shown and the kept conversations, both sides."""
        return [self.chat, self.base_chat, self.conv, self.base_conv]


@dataclass
class Settings:
    """How answers are sampled (``SETTING_NAMES``, in that order)."""

    system: gr.Textbox
    temperature: gr.Slider
    top_p: gr.Slider
    top_k: gr.Slider
    max_new_tokens: gr.Slider
    repetition_penalty: gr.Slider

    @property
    def components(self) -> list[Any]:
        return [self.system, self.temperature, self.top_p, self.top_k, self.max_new_tokens, self.repetition_penalty]

    def values(self, values: dict) -> dict[str, Any]:
        """The settings out of a handler's ``{component: value}`` inputs."""
        return settings_of([values[c] for c in self.components])


@dataclass
class Playground:
    """The tab's panels: what its handlers read and fill."""

    picker: Picker
    chat: Chat
    settings: Settings


def picker_panel() -> Picker:
    with gr.Row(equal_height=True):
        model = gr.Dropdown([], value=None, allow_custom_value=True, label="Model", scale=5, elem_id="mf-pg-model",
                            info="A fine-tuned model, the embedded default, a Hub id (org/name) or a folder in "
                                 "models/.")
        refresh = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="mf-pg-refresh")
        load = gr.Button("Load", size="sm", scale=0, min_width=80, elem_id="mf-pg-load")
        unload = gr.Button("Unload", size="sm", scale=0, min_width=80, elem_id="mf-pg-unload")
    info = gr.Markdown("Pick a model.", elem_id="mf-pg-info")
    return Picker(model, refresh, load, unload, info)


def chat_panel() -> Chat:
    with gr.Row():
        mode = gr.Radio(MODE_CHOICES, value="chat", label="Mode", scale=4, elem_id="mf-pg-mode")
        compare = gr.Checkbox(False, label="Compare with the base model", scale=1, elem_id="mf-pg-compare")
    with gr.Row(equal_height=True):
        chat = gr.Chatbot([], label="Fine-tuned model", height=420, elem_id="mf-pg-chat")
        base_chat = gr.Chatbot([], label="Base model", height=420, visible=False, elem_id="mf-pg-base-chat")
    # one line that grows: Enter sends, Shift+Enter adds a line (as chat apps do)
    message = gr.Textbox(label="Message", placeholder="Type a message · Enter sends · Shift+Enter adds a line",
                         lines=1, max_lines=8, elem_id="mf-pg-input")
    document = gr.Textbox(label="Document to summarize", lines=6, visible=False, elem_id="mf-pg-document")
    with gr.Row(visible=False) as qa_row:
        context = gr.Textbox(label="Context", lines=5, scale=3, elem_id="mf-pg-context")
        question = gr.Textbox(label="Question", lines=2, scale=2, elem_id="mf-pg-question")
    with gr.Row():
        send = gr.Button("Send", variant="primary", elem_id="mf-pg-send")
        stop = gr.Button("Stop", variant="stop", elem_id="mf-pg-stop")
        clear = gr.Button("Clear", elem_id="mf-pg-clear")
    status = gr.Markdown("", elem_id="mf-pg-status")
    return Chat(mode, compare, chat, base_chat, gr.State([]), gr.State([]), message, document,
                qa_row, context, question, send, stop, clear, status)


def settings_panel() -> Settings:
    from ..inference import GenerationSettings

    defaults = GenerationSettings()
    with gr.Accordion("Generation settings", open=False):
        system = gr.Textbox(defaults.system_prompt, label="System prompt", lines=2, elem_id="mf-pg-system",
                            info="Empty: none (the chat template's own default, as in training).")
        with gr.Row():
            temperature = gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="Temperature",
                                    info="0: always the most likely token", elem_id="mf-pg-temperature")
            top_p = gr.Slider(0.05, 1.0, value=defaults.top_p, step=0.05, label="Top-p", elem_id="mf-pg-top-p")
            top_k = gr.Slider(0, 200, value=defaults.top_k, step=1, label="Top-k", info="0: off",
                              elem_id="mf-pg-top-k")
        with gr.Row():
            max_new = gr.Slider(1, 2048, value=defaults.max_new_tokens, step=1, label="Max new tokens",
                                elem_id="mf-pg-max-new")
            rep = gr.Slider(1.0, 2.0, value=defaults.repetition_penalty, step=0.05, label="Repetition penalty",
                            elem_id="mf-pg-rep")
    return Settings(system, temperature, top_p, top_k, max_new, rep)


# ---- handlers: the model picker --------------------------------------------------------------

def first_model():
    """The picker when the page opens: every choice, the newest fine-tuned model (else the default) chosen."""
    choices = model_choices()
    return gr.update(choices=choices, value=choices[0][1] if choices else EMBEDDED_MODEL)


def refreshed_choices():
    """The picker's choices again (a model may have been trained, merged or deleted since)."""
    return gr.update(choices=model_choices())


def run_model(run_id: str | None) -> str | None:
    """The id of the model a run saved (complete on disk), or None."""
    from .. import models

    made = [m["id"] for m in models.list_models() if run_id and m.get("run_id") == run_id and m.get("files_ok")]
    return made[0] if made else None


def offer_run_model(run_id: str):
    """A run just saved a model: the Playground offers it first (what its user will want to try)."""
    made = run_model(run_id)
    return gr.update(choices=model_choices(), value=made) if made else refreshed_choices()


def _cleared(p: Playground) -> dict[Any, Any]:
    return {c: [] for c in p.chat.conversations}


def on_model(p: Playground, ref: str) -> dict[Any, Any]:
    """A model was picked: say what it is, take its mode, start a new conversation. A fine-tuned
    model answers greedily, as in its run's evaluation; a base model samples gently."""
    from ..inference import GenerationSettings

    text, fit, can_compare = info_markdown(ref)
    compare = gr.update(interactive=True) if can_compare else gr.update(interactive=False, value=False)
    return {p.picker.info: text + (GREEDY_NOTE if can_compare else ""), p.chat.mode: fit, p.chat.compare: compare,
            p.settings.temperature: 0.0 if can_compare else GenerationSettings().temperature, **_cleared(p)}


def on_load(ref: str, progress=gr.Progress()) -> str:
    """Load the picked model now (with progress), rather than with the first message."""
    from .. import inference

    try:
        spec = refs.resolve_spec(ref, sandbox=True)
        inference.get_registry().load(spec, progress=lambda f, m: progress(f, desc=m))
    except Exception as e:
        return _warning(e)
    return info_text(ref)


def on_unload(ref: str) -> str:
    """Release every loaded model from memory."""
    from .. import inference

    gone = inference.unload()
    gr.Info(f"Released {len(gone)} model(s) from memory." if gone else "No model was loaded.")
    return info_text(ref)


# ---- handlers: the conversation --------------------------------------------------------------

def on_mode(p: Playground, mode: str) -> dict[Any, Any]:
    """The mode's message boxes show; the conversation starts anew."""
    c = p.chat
    return {c.message: gr.update(visible=mode == "chat"), c.document: gr.update(visible=mode == "summarization"),
            c.qa_row: gr.update(visible=mode == "extractive-qa"), **_cleared(p)}


def on_compare(p: Playground, compare: bool, history: list | None) -> dict[Any, Any]:
    """The base model's side starts from the conversation so far whenever Compare is switched."""
    return {p.chat.base_chat: gr.update(visible=bool(compare), value=list(history or [])),
            p.chat.base_conv: list(history or [])}


def on_clear(p: Playground) -> dict[Any, Any]:
    """Both the shown and the kept conversations go, and the status line."""
    return {**_cleared(p), p.chat.status: ""}


async def on_stop(request: gr.Request) -> None:
    """Stop this page's answer in progress (the tokens so far stay). A coroutine: it runs on the
    server's event loop at once, never waiting for a worker thread while answers hold them."""
    stop = _STOPS.get(request.session_hash or "")
    if stop is not None:
        stop.set()


@dataclass
class Turn:
    """One message and the answers to it as they arrive: what the chats show while it streams."""

    mode: str
    compare: bool
    history: list[dict[str, str]]  # the fine-tuned side, ending with the user's turn
    base_history: list[dict[str, str]]
    answers: list[str] = field(default_factory=lambda: ["", ""])

    def shown(self, row: int) -> list[dict[str, str]]:
        """The conversation of one side (0: the fine-tuned model, 1: the base) with its answer so far."""
        return (self.base_history if row else self.history) + [{"role": "assistant", "content": self.answers[row]}]


def start_turn(values: dict, c: Chat) -> tuple[Turn, list[dict], list[dict]]:
    """The turn a Send starts, and the messages each model is given."""
    from .. import inference

    mode, msg = values[c.mode], values[c.message]
    compare = bool(values[c.compare])
    history, base_history = list(values[c.conv] or []), list(values[c.base_conv] or [])
    if mode == "chat":
        msgs = inference.build_messages("chat", history=history, prompt=msg)
        base_msgs = inference.build_messages("chat", history=base_history, prompt=msg)
        user = {"role": "user", "content": msg}
        return Turn(mode, compare, history + [user], base_history + [dict(user)]), msgs, base_msgs
    doc, context, question = values[c.document], values[c.context], values[c.question]
    msgs = inference.build_messages(mode, document=doc, context=context, question=question)
    shown = display_prompt(mode, msg, doc, context, question)
    return Turn(mode, compare, [{"role": "user", "content": shown}], [{"role": "user", "content": shown}]), msgs, msgs


def frame(p: Playground, turn: Turn, status: str, first: bool = False) -> dict[Any, Any]:
    """The chats while the answer streams (the message box empties with the first frame in chat mode)."""
    c = p.chat
    out = {c.chat: turn.shown(0), c.status: status}
    if turn.compare:
        out[c.base_chat] = turn.shown(1)
    if first and turn.mode == "chat":
        out[c.message] = ""
    return out


def last_frame(p: Playground, turn: Turn, status: str) -> dict[Any, Any]:
    """The chats once the answer has ended; the answers join the kept conversations."""
    c = p.chat
    return {**frame(p, turn, status), c.conv: turn.shown(0), c.base_conv: turn.shown(1 if turn.compare else 0)}


def _needs_loading(spec, compare: bool) -> bool:
    """Whether the answer waits for a model to load: the model, or the base of a merged or full
    model to compare with."""
    from .. import inference

    return inference.get_registry().get_loaded(spec.key) is None or (compare and not spec.is_adapter)


def _load_for(spec, compare: bool, progress) -> None:
    """Load what the answer needs (see :func:`_needs_loading`), with progress."""
    from .. import inference

    registry = inference.get_registry()
    registry.load(spec, progress=lambda f, t: progress(f, desc=t))
    if compare and not spec.is_adapter:
        registry.load(refs.base_spec_of(spec), progress=lambda f, t: progress(f, desc=t))


def _pieces(spec, turn: Turn, msgs: list, base_msgs: list, settings, stop, stats) -> Iterator[tuple[int, str]]:
    """The answer's pieces as (side, text): both sides with Compare, else the one model's."""
    from .. import inference

    if turn.compare:
        yield from inference.stream_compare(spec, msgs, settings, base_messages=base_msgs, stop=stop, stats=stats,
                                            every=UPDATE_EVERY)
    else:
        for text in inference.stream(spec, msgs, settings, stop=stop, stats=stats, every=UPDATE_EVERY):
            yield 0, text


def _answer(p: Playground, values: dict, stop: threading.Event, progress) -> Iterator[dict[Any, Any]]:
    from .. import inference

    c = p.chat
    settings = inference.GenerationSettings.from_dict(p.settings.values(values))
    if values[c.mode] == "chat" and not (values[c.message] or "").strip():
        yield {c.status: "Type a message first."}
        return
    turn, msgs, base_msgs = start_turn(values, c)
    spec = refs.resolve_spec(values[p.picker.model], sandbox=True)
    if turn.compare and not spec.base_reference:
        turn.compare = False
        gr.Warning("Compare needs a fine-tuned model: answering with this model alone.")
    if _needs_loading(spec, turn.compare):
        yield {c.status: f"Loading {html.escape(spec.label)}…"}
        _load_for(spec, turn.compare, progress)
    stats = inference.GenerationStats()
    pieces = _pieces(spec, turn, msgs, base_msgs, settings, stop, stats)
    yield frame(p, turn, "Answering…", first=True)
    for row, text in pieces:
        turn.answers[row] += text
        yield frame(p, turn, "Answering…")
    yield last_frame(p, turn, done_status(stats.to_dict(), turn.compare, bool(spec.base_reference)))


def on_send(p: Playground, request: gr.Request, values: dict,
            progress=gr.Progress()) -> Iterator[dict[Any, Any]]:
    """Send the message (or the document, or the context and question) and stream the answer, both
    sides with Compare. ``values``: the inputs of ``send_inputs(p)`` by component. Stop ends it."""
    session = request.session_hash or ""
    stop = _STOPS[session] = threading.Event()
    try:
        yield from _answer(p, values, stop, progress)
    except Exception as e:
        yield {p.chat.status: _warning(e)}
    finally:
        if _STOPS.get(session) is stop:
            _STOPS.pop(session, None)


def send_inputs(p: Playground) -> set[Any]:
    """What a Send reads (handed to ``on_send`` as one ``{component: value}``)."""
    c = p.chat
    return {p.picker.model, c.mode, c.compare, c.message, c.document, c.context, c.question, c.conv, c.base_conv,
            *p.settings.components}


# ---- the tab ---------------------------------------------------------------------------------

def wire_picker(ctx, p: Playground) -> None:
    model, info = p.picker.model, p.picker.info
    ctx.demo.load(first_model, None, model, **HIDDEN)
    gr.on([p.picker.refresh.click, ctx.tabs.select], refreshed_choices, None, model, **HIDDEN)
    ctx.run_finished.change(offer_run_model, ctx.run_finished, model, **HIDDEN)
    model.change(bind(on_model, p), model, [info, p.chat.mode, p.chat.compare, p.settings.temperature,
                                               *p.chat.conversations], **HIDDEN)
    p.picker.load.click(on_load, model, info, api_visibility="private", show_progress_on=[info])
    p.picker.unload.click(on_unload, model, info, **HIDDEN)


def wire_chat(ctx, p: Playground) -> None:
    c = p.chat
    c.mode.change(bind(on_mode, p), c.mode, [c.message, c.document, c.qa_row, *c.conversations], **HIDDEN)
    c.compare.change(bind(on_compare, p), [c.compare, c.conv], [c.base_chat, c.base_conv], **HIDDEN)
    gr.on([c.send.click, c.message.submit], bind(on_send, p), send_inputs(p),
          [*c.conversations, c.message, c.status], api_visibility="private", show_progress="minimal",
          show_progress_on=[c.status]).then(info_text, p.picker.model, p.picker.info, **HIDDEN)
    c.stop.click(on_stop, None, None, api_visibility="private", concurrency_limit=None, queue=False)
    # the Clear button and each chat's own trash icon clear both the shown and the kept conversation
    gr.on([c.clear.click, c.chat.clear, c.base_chat.clear], bind(on_clear, p), None, [*c.conversations, c.status],
          **HIDDEN)


def build(ctx) -> Playground:
    """Lay out the tab's panels, wire their events, and publish the API actions."""
    gr.Markdown("### Playground\nTalk to a model. Pick one of your fine-tuned models (or a base model), type a "
                "message, and watch the answer arrive. **Compare** shows the base model's answer beside it.")
    picker = picker_panel()
    ctx.playground_model = picker.model
    p = Playground(picker, chat_panel(), settings_panel())
    wire_picker(ctx, p)
    wire_chat(ctx, p)
    publish_api()
    return p


# ---- API -------------------------------------------------------------------------------------

GENERATION_ARGS = """

    Args:
        model: a fine-tuned model's id (see /models), the embedded default, a Hub id or an allowed model folder
        prompt: the user's message (chat mode)
        messages: or the conversation so far, a list of {role, content} ending with the user's turn
        settings: {system_prompt, temperature (0 = greedy), top_p, top_k, max_new_tokens, repetition_penalty}
        mode: chat, summarization (give document) or extractive-qa (give context and question)
        document: the text to summarize (summarization mode)
        context: the passage to answer from (extractive-qa mode)
        question: the question on the context (extractive-qa mode)
    """


def generate(model: str, prompt: str = "", messages: list | None = None, settings: dict | None = None,
             mode: str = "chat", document: str = "", context: str = "", question: str = "") -> Iterator[str]:
    """Stream a model's answer. model: a fine-tuned model's id (see /models), the embedded default, a Hub id or
    a model folder the server allows. prompt: a user message, or messages: a list of {role, content} (the
    conversation so far, ending with the user's turn). settings: {system_prompt, temperature (0 = greedy), top_p,
    top_k, max_new_tokens, repetition_penalty}. mode: chat, summarization (document) or extractive-qa (context,
    question), formatted as in training. Streams the answer so far, as text (at most 20 updates a second); a
    client that waits for the result gets the whole answer. Cancelling the request stops the generation at once.
    Example: {"model": "20260101-120000-ab12", "prompt": "How do I boil an egg?"}."""
    from .. import inference

    msgs = api_messages(model, prompt, messages, mode, document, context, question)
    text = ""
    for piece in inference.stream(model, msgs, settings, sandbox=True, every=API_UPDATE_EVERY):
        text += piece
        yield text
    if not text:
        yield ""


def compare_api(model: str, prompt: str = "", messages: list | None = None, settings: dict | None = None,
                mode: str = "chat", document: str = "", context: str = "", question: str = "") -> Iterator[dict]:
    """The same as /generate, answered by the fine-tuned model and by its base model side by side, to see what
    the fine-tuning changed. Streams {fine_tuned, base}; the last update holds both whole answers. Example:
    {"model": "20260101-120000-ab12", "prompt": "How do I boil an egg?"}."""
    from .. import inference

    msgs = api_messages(model, prompt, messages, mode, document, context, question)
    out = {"fine_tuned": "", "base": ""}
    yielded = False
    for row, piece in inference.stream_compare(model, msgs, settings, sandbox=True, every=API_UPDATE_EVERY):
        out["fine_tuned" if row == 0 else "base"] += piece
        yielded = True
        yield dict(out)
    if not yielded:
        yield out


generate.__doc__ += GENERATION_ARGS  # the same parameters, described once
compare_api.__doc__ += GENERATION_ARGS


def load_model_api(model: str) -> dict:
    """Load a model into memory (it stays loaded between requests); returns what is loaded.

    Args:
        model: a fine-tuned model's id (see /models), the embedded default, a Hub id or an allowed model folder
    """
    from .. import inference

    return inference.get_registry().load(refs.resolve_spec(model, sandbox=True)).info()


def unload_api(model: str = "") -> dict:
    """Release a loaded model (by reference or id; empty: every model) to free memory.

    Args:
        model: the loaded model's reference or id; empty: every loaded model
    """
    from .. import inference

    return {"released": inference.unload((model or "").strip() or None), "loaded": inference.get_registry().loaded()}


def publish_api() -> None:
    """The tab's API actions: /generate, /compare, /load_model, /unload."""
    endpoint(generate, where=WHERE)
    endpoint(compare_api, where=WHERE)
    endpoint(load_model_api, where=WHERE)
    endpoint(unload_api, where=WHERE, concurrency_limit=None)


__all__ = ["MODE_CHOICES", "Chat", "Picker", "Playground", "Settings", "build", "describe", "info_markdown",
           "model_choices", "on_compare", "on_mode", "on_model", "on_send", "publish_api"]
