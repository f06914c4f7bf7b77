"""Playground tab: chat with a fine-tuned or a base model, streamed token by token.

Pick a fine-tuned model (or a base model: the embedded default, a Hub id, a folder), chat
with it, or use the task modes it was trained for (summarization, extractive QA: the prompt
is formatted exactly as in training). Compare answers the same prompt with the fine-tuned
model and its base side by side. The loaded model stays in memory between messages
(:mod:`forge.inference`); Unload frees it.

API endpoints: ``/generate`` and ``/compare`` (streamed text), ``/load_model``, ``/unload``.
"""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from ..config import EMBEDDED_MODEL
from . import views
from .widgets import friendly_error

log = logging.getLogger(__name__)

MODE_CHOICES = [("Chat", "chat"), ("Summarization: document → summary", "summarization"),
                ("Extractive QA: context + question → answer", "extractive-qa")]
UPDATE_EVERY = 0.1  # seconds: the chat is redrawn at most 10 times a second, however fast the tokens come
API_UPDATE_EVERY = 0.05  # seconds: /generate and /compare send at most 20 updates a second (the first at once)
SETTING_NAMES = ("system_prompt", "temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty")
API = {
    "generate": "Stream a model's answer. model: a fine-tuned model's id (see /models), the embedded default, a "
                "Hub id or a model folder the server allows. prompt: a user message, or messages: a list of "
                "{role, content} (the conversation so far, ending with the user's turn). settings: {system_prompt, "
                "temperature (0 = greedy), top_p, top_k, max_new_tokens, repetition_penalty}. mode: chat, "
                "summarization (document) or extractive-qa (context, question), formatted as in training. Streams "
                "the answer so far, as text (at most 20 updates a second); a client that waits for the result gets "
                "the whole answer. Cancelling the request stops the generation at once. Example: "
                '{"model": "20260101-120000-ab12", "prompt": "How do I boil an egg?"}.',
    "compare": "The same as /generate, answered by the fine-tuned model and by its base model side by side, to "
               "see what the fine-tuning changed. Streams {fine_tuned, base}; the last update holds both whole "
               'answers. Example: {"model": "20260101-120000-ab12", "prompt": "How do I boil an egg?"}.',
    "load_model": "Load a model into memory (it stays loaded between requests); returns what is loaded.",
    "unload": "Release a loaded model (by reference or id; empty: every model) to free memory.",
}


def _friendly(e: BaseException) -> str:
    return friendly_error(e, "the Playground tab")


# ---- plain helpers ---------------------------------------------------------------------------

def model_choices() -> list[tuple[str, str]]:
    """Fine-tuned models first (by id), then the embedded default and the folders of models/."""
    from ..inference import model_choices as choices

    return choices()


def describe(ref: str) -> dict[str, Any]:
    """What the picker shows about a reference, without loading it."""
    from .. import inference

    spec = inference.resolve_spec(ref, sandbox=True)
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
        if converted.is_file() or catalog._hub_cached(EMBEDDED_MODEL):
            return None
        return (f"**{EMBEDDED_MODEL}** · base model (embedded default)  \nPrepared on first use (about 20 s), "
                "then it stays loaded: send a message or press Load.")
    if "/" in ref and not Path(ref).expanduser().exists() and catalog.HUB_ID.match(ref) and not ref.startswith("."):
        if catalog._hub_cached(ref):
            return None
        return (f"**{html.escape(ref)}** · base model from the Hugging Face Hub  \nDownloaded when it is loaded: "
                "send a message or press Load.")
    return None


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
        return "⚠ " + _friendly(e), "chat", False
    spec, loaded = d["spec"], d["loaded"]
    if spec.fine_tuned:
        what = {"adapter": "LoRA adapter", "full": "fully fine-tuned model", "merged": "merged model"}.get(
            spec.kind, spec.kind)
        text = (f"**{views.md_text(spec.label)}** · {what} on {views.md_code(spec.base_reference)}"
                + (f" · trained for {spec.task}" if spec.task else "")
                + f" · model id {views.md_code(spec.model_id)}")  # which record the name resolved to
        if spec.quantized_base:
            text += " · trained on a 4-bit base (QLoRA)"
    else:
        text = f"**{views.md_text(spec.label)}** · base model {views.md_code(spec.reference)}"
    text += f"  \n{'Loaded on ' + loaded['device'].upper() if loaded else 'Not loaded yet: it loads with the first message (or press Load).'}"
    for note in (loaded or {}).get("notes") or []:
        text += f"  \nℹ {note}"
    return text, inference.mode_for_task(spec.task), bool(spec.base_reference)


def settings_of(values: tuple | list) -> dict[str, Any]:
    return {k: v for k, v in zip(SETTING_NAMES, values) if v is not None and v != ""}


def display_prompt(mode: str, message: str, document: str, context: str, question: str) -> str:
    if mode == "summarization":
        return f"**Summarize:**\n\n{document.strip()}"
    if mode == "extractive-qa":
        return f"**Context:** {context.strip()}\n\n**Question:** {question.strip()}"
    return message


def api_messages(model: str, prompt: str, messages: list | None, mode: str, document: str, context: str,
                 question: str, system: str = "") -> list[dict[str, str]]:
    from .. import inference

    if (mode or "chat") in ("chat", "text-generation"):
        return inference.build_messages("chat", history=messages or [], prompt=prompt or "")
    return inference.build_messages(mode, document=document or prompt or "", context=context or "",
                                    question=question or "")


# ---- the tab ---------------------------------------------------------------------------------

def build(ctx) -> None:  # noqa: C901 — page builder, split into panels in the redesign
    from ..inference import GenerationSettings

    defaults = GenerationSettings()
    skip = gr.skip
    gr.Markdown("### Playground\nTalk to a model. Pick one of your fine-tuned models (or a base model), type a "
                "message, and watch the answer arrive. **Compare** shows the base model's answer beside it.")
    with gr.Row(equal_height=True):
        model = gr.Dropdown([], value=None, allow_custom_value=True, label="Model", scale=5, elem_id="mf-pg-model",
                            info="A fine-tuned model, the embedded default, a Hub id (org/name) or a folder in models/.")
        refresh_btn = gr.Button("↻", size="sm", scale=0, min_width=40, elem_id="mf-pg-refresh")
        load_btn = gr.Button("Load", size="sm", scale=0, min_width=80, elem_id="mf-pg-load")
        unload_btn = gr.Button("Unload", size="sm", scale=0, min_width=80, elem_id="mf-pg-unload")
    ctx.playground_model = model
    info_md = gr.Markdown("Pick a model.", elem_id="mf-pg-info")
    with gr.Row():
        mode = gr.Radio(MODE_CHOICES, value="chat", label="Mode", scale=4, elem_id="mf-pg-mode")
        compare = gr.Checkbox(False, label="Compare with the base model", scale=1, elem_id="mf-pg-compare")
    with gr.Row(equal_height=True):
        chat = gr.Chatbot([], label="Fine-tuned model", height=420, elem_id="mf-pg-chat")
        base_chat = gr.Chatbot([], label="Base model", height=420, visible=False, elem_id="mf-pg-base-chat")
    conv = gr.State([])  # the conversation as plain messages (what the model sees)
    base_conv = gr.State([])
    # one line that grows: Enter sends, Shift+Enter adds a line (as chat apps do)
    message = gr.Textbox(label="Message", placeholder="Type a message · Enter sends · Shift+Enter adds a line",
                         lines=1, max_lines=8, elem_id="mf-pg-input")
    document = gr.Textbox(label="Document to summarize", lines=6, visible=False, elem_id="mf-pg-document")
    with gr.Row(visible=False) as qa_row:
        context = gr.Textbox(label="Context", lines=5, scale=3, elem_id="mf-pg-context")
        question = gr.Textbox(label="Question", lines=2, scale=2, elem_id="mf-pg-question")
    with gr.Row():
        send_btn = gr.Button("Send", variant="primary", elem_id="mf-pg-send")
        stop_btn = gr.Button("Stop", variant="stop", elem_id="mf-pg-stop")
        clear_btn = gr.Button("Clear", elem_id="mf-pg-clear")
    status_md = gr.Markdown("", elem_id="mf-pg-status")
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
    settings_inputs = [system, temperature, top_p, top_k, max_new, rep]

    # ---- model picker -----------------------------------------------------------------------------
    def choices_update(value=None):
        return gr.update(choices=model_choices()) if value is None else gr.update(choices=model_choices(), value=value)

    def on_page_load():
        choices = model_choices()
        first = choices[0][1] if choices else EMBEDDED_MODEL
        return gr.update(choices=choices, value=first)

    ctx.demo.load(on_page_load, None, model, api_visibility="private", show_progress="hidden")
    refresh_btn.click(lambda: choices_update(), None, model, api_visibility="private", show_progress="hidden")
    ctx.tabs.select(lambda: choices_update(), None, model, api_visibility="private", show_progress="hidden")

    def on_run_finished(run_id):
        """A run just saved a model: the Playground offers it first (what its user will want to try)."""
        from .. import models

        made = [m["id"] for m in models.list_models() if m.get("run_id") == run_id and m.get("files_ok")]
        return choices_update(made[0]) if made else choices_update()

    ctx.run_finished.change(on_run_finished, ctx.run_finished, model, api_visibility="private",
                            show_progress="hidden")

    def on_model(ref):
        text, fit, can_compare = info_markdown(ref)
        # a fine-tuned model answers greedily, as in its run's evaluation; a base model samples gently
        temp = 0.0 if can_compare else defaults.temperature
        if can_compare:
            text += "  \nAnswers are greedy (temperature 0), as in its run's evaluation: raise the temperature " \
                    "under Generation settings for varied answers."
        return (text, fit, gr.update(interactive=can_compare, value=False) if not can_compare else gr.update(interactive=True),
                [], [], [], [], temp)

    model.change(on_model, model, [info_md, mode, compare, chat, base_chat, conv, base_conv, temperature],
                 api_visibility="private", show_progress="hidden")

    def on_mode(m):
        return (gr.update(visible=m == "chat"), gr.update(visible=m == "summarization"),
                gr.update(visible=m == "extractive-qa"), [], [], [], [])

    mode.change(on_mode, mode, [message, document, qa_row, chat, base_chat, conv, base_conv],
                api_visibility="private", show_progress="hidden")
    # the base model's side starts from the conversation so far whenever Compare is switched
    compare.change(lambda c, history: (gr.update(visible=bool(c), value=list(history or [])), list(history or [])),
                   [compare, conv], [base_chat, base_conv], api_visibility="private", show_progress="hidden")

    def on_load(ref, progress=gr.Progress()):
        from .. import inference

        try:
            spec = inference.resolve_spec(ref, sandbox=True)
            inference.get_registry().load(spec, progress=lambda f, m: progress(f, desc=m))
        except Exception as e:
            return "⚠ " + _friendly(e)
        return info_markdown(ref)[0]

    load_btn.click(on_load, model, info_md, api_visibility="private", show_progress_on=[info_md])

    def on_unload(ref):
        from .. import inference

        gone = inference.unload()
        gr.Info(f"Released {len(gone)} model(s) from memory." if gone else "No model was loaded.")
        return info_markdown(ref)[0]

    unload_btn.click(on_unload, model, info_md, api_visibility="private", show_progress="hidden")

    # ---- chatting -----------------------------------------------------------------------------------
    stops: dict[str, threading.Event] = {}  # page session -> the stop of its answer in progress

    def on_send(request: gr.Request, ref, m, cmp, msg, doc, ctx_text, q, history, base_history, *settings,  # noqa: C901 — handler inside a page builder; moves out with its panel in the redesign
                progress=gr.Progress()):
        from .. import inference

        session = request.session_hash or ""
        stop = threading.Event()
        stops[session] = stop
        history, base_history = list(history or []), list(base_history or [])
        try:
            settings = inference.GenerationSettings.from_dict(settings_of(settings))
            if m == "chat":
                if not (msg or "").strip():
                    yield [skip()] * 6 + ["Type a message first."]
                    return
                msgs = inference.build_messages("chat", history=history, prompt=msg)
                base_msgs = inference.build_messages("chat", history=base_history, prompt=msg)
                history = history + [{"role": "user", "content": msg}]
                base_history = base_history + [{"role": "user", "content": msg}]
            else:
                msgs = base_msgs = inference.build_messages(m, document=doc, context=ctx_text, question=q)
                shown = display_prompt(m, msg, doc, ctx_text, q)
                history, base_history = [{"role": "user", "content": shown}], [{"role": "user", "content": shown}]
            spec = inference.resolve_spec(ref, sandbox=True)
            if cmp and not spec.base_reference:
                cmp = False
                gr.Warning("Compare needs a fine-tuned model: answering with this model alone.")
            registry = inference.get_registry()
            if registry.get_loaded(spec.key) is None or (cmp and not spec.is_adapter):
                yield [skip()] * 6 + [f"Loading {html.escape(spec.label)}…"]
                registry.load(spec, progress=lambda f, t: progress(f, desc=t))
                if cmp and not spec.is_adapter:
                    registry.load(inference.base_spec_of(spec), progress=lambda f, t: progress(f, desc=t))
            answers = ["", ""]

            def frame(status: str, first: bool = False) -> list:
                shown_hist = history + [{"role": "assistant", "content": answers[0]}]
                shown_base = base_history + [{"role": "assistant", "content": answers[1]}]
                return [shown_hist, shown_base if cmp else skip(), skip(), skip(),
                        "" if first and m == "chat" else skip(), skip(), status]

            stats = inference.GenerationStats()
            if cmp:
                pieces = inference.stream_compare(spec, msgs, settings, base_messages=base_msgs, stop=stop, stats=stats,
                                                  every=UPDATE_EVERY)
            else:
                pieces = ((0, t) for t in inference.stream(spec, msgs, settings, stop=stop, stats=stats,
                                                           every=UPDATE_EVERY))
            yield frame("Answering…", first=True)
            for row, text in pieces:
                answers[row] += text
                yield frame("Answering…")
            s = stats.to_dict()
            done = "■ Stopped." if s["stopped"] else "✓ Done."
            tps = f" · {s['tokens_per_second']:.1f} tokens/s" if s.get("tokens_per_second") else ""
            names = ["fine-tuned", "base"] if cmp else ["fine-tuned" if spec.base_reference else "base model"]
            counts = " · ".join(f"{n}: {t} tokens" for n, t in zip(names, s["tokens"]))
            out = frame(f"{done} {counts}{tps}")
            out[2] = history + [{"role": "assistant", "content": answers[0]}]
            out[3] = base_history + [{"role": "assistant", "content": answers[1]}] if cmp else out[2]
            yield out
        except Exception as e:
            yield [skip()] * 6 + ["⚠ " + _friendly(e)]
        finally:
            if stops.get(session) is stop:
                stops.pop(session, None)

    send_inputs = [model, mode, compare, message, document, context, question, conv, base_conv] + settings_inputs
    send_outputs = [chat, base_chat, conv, base_conv, message, info_md, status_md]
    for trigger in (send_btn.click, message.submit):
        trigger(on_send, send_inputs, send_outputs, api_visibility="private", show_progress="minimal",
                show_progress_on=[status_md]).then(
            lambda ref: info_markdown(ref)[0], model, info_md, api_visibility="private", show_progress="hidden")

    def on_stop(request: gr.Request):
        ev = stops.get(request.session_hash or "")
        if ev is not None:
            ev.set()

    stop_btn.click(on_stop, None, None, api_visibility="private", concurrency_limit=None, queue=False)
    # the Clear button and each chat's own trash icon clear both the shown and the kept conversation
    gr.on([clear_btn.click, chat.clear, base_chat.clear], lambda: ([], [], [], [], ""), None,
          [chat, base_chat, conv, base_conv, status_md], api_visibility="private", show_progress="hidden")

    # ---- API ------------------------------------------------------------------------------------------
    def generate(model: str, prompt: str = "", messages: list | None = None, settings: dict | None = None,
                 mode: str = "chat", document: str = "", context: str = "", question: str = "") -> Iterator[str]:
        """Args:
            model: a fine-tuned model's id (see /models), the embedded default, a Hub id or an allowed model folder
            prompt: the user's message (chat mode)
            messages: or the conversation so far, a list of {role, content} ending with the user's turn
            settings: {system_prompt, temperature (0 = greedy), top_p, top_k, max_new_tokens, repetition_penalty}
            mode: chat, summarization (give document) or extractive-qa (give context and question)
            document: the text to summarize (summarization mode)
            context: the passage to answer from (extractive-qa mode)
            question: the question on the context (extractive-qa mode)
        """
        from .. import inference

        try:
            msgs = api_messages(model, prompt, messages, mode, document, context, question)
            pieces = inference.stream(model, msgs, settings, sandbox=True, every=API_UPDATE_EVERY)
            text = ""
            for piece in pieces:
                text += piece
                yield text
            if not text:
                yield ""
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def compare_api(model: str, prompt: str = "", messages: list | None = None, settings: dict | None = None,
                    mode: str = "chat", document: str = "", context: str = "",
                    question: str = "") -> Iterator[dict]:
        from .. import inference

        try:
            msgs = api_messages(model, prompt, messages, mode, document, context, question)
            out = {"fine_tuned": "", "base": ""}
            yielded = False
            for row, piece in inference.stream_compare(model, msgs, settings, sandbox=True, every=API_UPDATE_EVERY):
                out["fine_tuned" if row == 0 else "base"] += piece
                yielded = True
                yield dict(out)
            if not yielded:
                yield out
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None

    def load_api(model: str) -> dict:
        from .. import inference

        try:
            m = inference.get_registry().load(inference.resolve_spec(model, sandbox=True))
        except Exception as e:
            raise gr.Error(_friendly(e), print_exception=False) from None
        return m.info()

    def unload_api(model: str = "") -> dict:
        from .. import inference

        return {"released": inference.unload((model or "").strip() or None), "loaded": inference.get_registry().loaded()}

    gr.api(generate, api_name="generate", api_description=API["generate"])
    compare_api.__doc__ = generate.__doc__  # the same parameters, described once
    gr.api(compare_api, api_name="compare", api_description=API["compare"])
    gr.api(load_api, api_name="load_model", api_description=API["load_model"])
    gr.api(unload_api, api_name="unload", api_description=API["unload"], concurrency_limit=None)


__all__ = ["API", "MODE_CHOICES", "build", "describe", "info_markdown", "model_choices"]
