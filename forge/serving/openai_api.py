"""An OpenAI-compatible endpoint: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``.

Served by the app's own server (the routes are handed to the FastAPI app Gradio builds, see
:func:`routes`), so ``python app.py``, a Hugging Face Space and the tests all serve them. Answers
come from the engine's one generation path (:func:`forge.inference.stream` on the shared model
registry), so a model loaded once serves the Playground and this endpoint.

Who may call it is :mod:`forge.serving.auth`'s rule; the app's :class:`~forge.serving.auth.AppOptions`
are read from the Blocks that the server serves (``build_app`` sets them). Errors have OpenAI's
shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, ForgeError, ModelNotFoundError
from . import auth

log = logging.getLogger(__name__)

OPTIONS_ATTR = "forge_app_options"  # the attribute of the served Blocks that holds its AppOptions
OWNER = "modelforge"


# ---- errors ------------------------------------------------------------------------------------

class APIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",  # noqa: A002
                 code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def api_error(e: BaseException) -> APIError:
    """Any exception as an APIError: the engine's errors keep their message and hint."""
    if isinstance(e, APIError):
        return e
    if isinstance(e, auth.AccessDenied):
        kind = "authentication_error" if e.status == 401 else "permission_error"
        return APIError(e.status, e.message, type=kind, code=e.code)
    if isinstance(e, ModelNotFoundError):
        return APIError(404, str(e), code="model_not_found", param="model")
    if isinstance(e, ConfigError):
        return APIError(400, str(e))
    if isinstance(e, ForgeError):
        return APIError(500, str(e), type="server_error")
    log.exception("the OpenAI-compatible endpoint failed")
    return APIError(500, f"The server failed to answer: {type(e).__name__}. Its log has the details.",
                     type="server_error")


# ---- requests ----------------------------------------------------------------------------------

class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class Sampling(BaseModel):
    """What both endpoints take. Parameters not given take the Playground's defaults; ``top_k`` and
    ``repetition_penalty`` are the Playground's own settings, beyond OpenAI's (the openai client
    sends them with ``extra_body``)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = 1
    tools: list[Any] | None = None
    logprobs: bool | int | None = None

    @property
    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def check_supported(self) -> None:
        if self.n not in (None, 1):
            raise APIError(400, f"n is {self.n}: this server answers one choice per request (n=1).", param="n")
        if self.tools:
            raise APIError(400, "Tools (function calling) are not supported by this server; send the request "
                                "without tools.", param="tools")
        if self.logprobs:
            raise APIError(400, "logprobs are not supported by this server; send the request without them.",
                           param="logprobs")
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise APIError(400, f"stop has {len(stops)} strings; give at most 4.", param="stop")


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(Sampling):
    prompt: str | list[str]

    def text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) != 1:
            raise APIError(400, f"prompt is a list of {len(self.prompt)} prompts: this server answers one prompt per "
                                "request; send them one at a time.", param="prompt")
        return self.prompt[0]


async def parse(request: Request, model: type[Sampling]) -> Sampling:
    """The request's JSON body as ``model``; a 400 naming the bad field otherwise."""
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError as e:
        raise APIError(400, f"The request body is not valid JSON ({e}).") from None
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object, e.g. {\"model\": ..., \"messages\": [...]}.")
    try:
        req = model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise APIError(400, f"{where}: {err['msg']} (got {json.dumps(err.get('input'), default=str)[:80]}).",
                       param=where) from None
    req.check_supported()
    return req


# ---- models ------------------------------------------------------------------------------------

def _references() -> dict[str, str]:
    """Every name a request may use → the reference it stands for: the references the Playground's
    picker uses, plus fine-tuned models' names and models/ folders' names."""
    from .. import inference
    from ..runs import get_store

    names: dict[str, str] = {}
    for _label, ref in inference.model_choices():
        names[ref] = ref
        if Path(ref).is_absolute():
            names.setdefault(Path(ref).name, ref)
    for rec in get_store().list_models():
        if rec.get("name") and rec["id"] in names:
            names.setdefault(rec["name"], rec["id"])
    return names


def list_models() -> list[dict[str, Any]]:
    from .. import inference

    return [{"id": ref, "object": "model", "created": _created(ref), "owned_by": OWNER}
            for _label, ref in inference.model_choices()]


def _created(ref: str) -> int:
    from ..runs import get_store

    rec = get_store().get_model(ref)
    path = Path(rec.get("path") or "") if rec else Path(ref)
    try:
        return int(path.stat().st_mtime) if path.is_absolute() else 0
    except OSError:
        return 0


def resolve(name: str):
    """The ModelSpec of a listed model; 404 ``model_not_found`` for any other name."""
    from .. import catalog
    from ..refs import resolve_spec

    ref = _references().get(name) or (name if catalog.is_embedded(name) else None)
    if ref is None:
        raise APIError(404, f"The model '{name}' does not exist on this server. GET /v1/models lists the models "
                            "it serves (client.models.list() with the openai client).",
                       code="model_not_found", param="model")
    return resolve_spec(ref)


# ---- one generation ----------------------------------------------------------------------------

@dataclass
class Generation:
    """One request's answer: the prompt, the settings, and what streaming it found."""

    name: str
    spec: Any
    prompt: list[dict[str, str]] | str
    settings: Any
    stops: Any
    prompt_tokens: int = 0
    stats: Any = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])
    created: int = field(default_factory=lambda: int(time.time()))

    def pieces(self) -> Iterator[str]:
        from ..inference import stream

        return self.stops.cut(stream(self.spec, self.prompt, self.settings, stats=self.stats))

    @property
    def completion_tokens(self) -> int:
        return sum(self.stats.tokens or [0])

    @property
    def finish_reason(self) -> str:
        if self.stops.hit is None and self.completion_tokens >= self.settings.max_new_tokens:
            return "length"
        return "stop"

    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


def _messages(req: ChatRequest) -> list[dict[str, Any]]:
    return [{"role": "system" if m.role == "developer" else m.role, "content": m.content or ""} for m in req.messages]


def prepare(req: Sampling, prompt: list[dict[str, Any]] | str) -> Generation:
    """Resolve the model, load it (once, in the shared registry), check the prompt fits its context."""
    from ..inference import GenerationSettings, GenerationStats, StopText, prompt_fit

    spec = resolve(req.model)
    settings = GenerationSettings.from_dict({"temperature": req.temperature, "top_p": req.top_p, "top_k": req.top_k,
                                             "repetition_penalty": req.repetition_penalty,
                                             "max_new_tokens": req.max_new_tokens})
    n, limit = prompt_fit(spec, prompt, settings)
    asked = req.max_new_tokens
    if limit and (n + (asked or 0) > limit or n >= limit):
        wanted = f"{n + asked} tokens ({n} in the {_what(prompt)} and {asked} for the completion)" if asked \
            else f"{n} tokens in the {_what(prompt)}"
        raise APIError(400, f"This model's maximum context length is {limit} tokens. However, you requested "
                            f"{wanted}. Please reduce the length of the {_what(prompt)}"
                            + (" or max_tokens." if asked else "."),
                       code="context_length_exceeded", param="messages" if isinstance(prompt, list) else "prompt")
    if limit and not asked:
        settings.max_new_tokens = min(settings.max_new_tokens, limit - n)
    return Generation(req.model, spec, prompt, settings, StopText(req.stop), n, GenerationStats())


def _what(prompt: Any) -> str:
    return "messages" if isinstance(prompt, list) else "prompt"


# ---- responses ---------------------------------------------------------------------------------

def chat_body(g: Generation, text: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{g.id}", "object": "chat.completion", "created": g.created, "model": g.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                         "finish_reason": g.finish_reason}], "usage": g.usage()}


def completion_body(g: Generation, text: str) -> dict[str, Any]:
    return {"id": f"cmpl-{g.id}", "object": "text_completion", "created": g.created, "model": g.name,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": g.finish_reason}],
            "usage": g.usage()}


def chat_chunk(g: Generation, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": f"chatcmpl-{g.id}", "object": "chat.completion.chunk", "created": g.created, "model": g.name,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def completion_chunk(g: Generation, text: str, finish: str | None = None) -> dict[str, Any]:
    return {"id": f"cmpl-{g.id}", "object": "text_completion", "created": g.created, "model": g.name,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}


def _sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def sse_events(g: Generation, chat: bool, include_usage: bool) -> Iterator[str]:
    """The answer as server-sent events: a chunk per piece of text, the finish reason, optionally
    the usage, then ``[DONE]``. An error while generating is sent as an error event."""
    if chat:
        yield _sse(chat_chunk(g, {"role": "assistant", "content": ""}))
    try:
        for piece in g.pieces():
            yield _sse(chat_chunk(g, {"content": piece}) if chat else completion_chunk(g, piece))
    except Exception as e:  # noqa: BLE001 — the headers are sent: the error goes into the stream
        yield _sse(api_error(e).body())
        return
    yield _sse(chat_chunk(g, {}, g.finish_reason) if chat else completion_chunk(g, "", g.finish_reason))
    if include_usage:
        last = chat_chunk(g, {}) if chat else completion_chunk(g, "")
        yield _sse({**last, "choices": [], "usage": g.usage()})
    yield _sse("[DONE]")


async def answer(request: Request, kind: type[Sampling]) -> JSONResponse | StreamingResponse:
    """Check access, parse, prepare, then answer whole or streamed."""
    try:
        auth.check(app_options(request), request.headers.get("authorization"))
        req = await parse(request, kind)
        chat = isinstance(req, ChatRequest)
        prompt = _messages(req) if chat else req.text()
        g = await run_in_threadpool(prepare, req, prompt)
        if req.stream:
            usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(sse_events(g, chat, usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        text = await run_in_threadpool(lambda: "".join(g.pieces()))
        return JSONResponse(chat_body(g, text) if chat else completion_body(g, text))
    except Exception as e:  # noqa: BLE001 — every failure is answered in OpenAI's shape
        return api_error(e).response()


def app_options(request: Request) -> auth.AppOptions:
    """The options of the app serving this request (set by ``build_app``). However it was built, an
    app launched with a share link or on a non-loopback address counts as public."""
    try:
        blocks = request.app.get_blocks()
    except (AttributeError, ValueError):
        blocks = None
    options = getattr(blocks, OPTIONS_ATTR, None) or auth.AppOptions()
    exposed = bool(getattr(blocks, "share", False)) or not auth.is_loopback(getattr(blocks, "server_name", None) or "127.0.0.1")
    return replace(options, public=True) if exposed and not options.public else options


# ---- routes ------------------------------------------------------------------------------------

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])


@router.get("/models")
async def models_route(request: Request) -> JSONResponse:
    try:
        auth.check(app_options(request), request.headers.get("authorization"))
        return JSONResponse({"object": "list", "data": await run_in_threadpool(list_models)})
    except Exception as e:  # noqa: BLE001
        return api_error(e).response()


@router.get("/models/{name:path}")
async def model_route(request: Request, name: str) -> JSONResponse:
    try:
        auth.check(app_options(request), request.headers.get("authorization"))
        found = [m for m in await run_in_threadpool(list_models) if m["id"] == name]
        if not found:
            await run_in_threadpool(resolve, name)  # 404 with its message; a name alias answers as its model
            found = [{"id": name, "object": "model", "created": 0, "owned_by": OWNER}]
        return JSONResponse(found[0])
    except Exception as e:  # noqa: BLE001
        return api_error(e).response()


@router.post("/chat/completions")
async def chat_route(request: Request):
    return await answer(request, ChatRequest)


@router.post("/completions")
async def completions_route(request: Request):
    return await answer(request, CompletionRequest)


def routes() -> list:
    """The routes to hand to the app's FastAPI server (``launch(app_kwargs={"routes": routes()})``)."""
    return list(router.routes)


__all__ = ["OPTIONS_ATTR", "APIError", "ChatRequest", "CompletionRequest", "api_error", "list_models", "resolve",
           "router", "routes"]
