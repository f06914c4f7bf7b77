"""The OpenAI-compatible endpoint (/v1), called with the official openai client and with curl
against the running app, on the tiny model and the shared trained adapter."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-7f3a9c-not-a-real-key"
SYSTEM = "You are a pirate. Answer like one."


def _client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def app_url(tiny_model):
    from ui_server import running_app

    with running_app() as url:  # local, no login, no key: open
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def client(app_url):
    return _client(app_url)


@pytest.fixture(scope="module")
def keyed_url(tiny_model):
    from forge.serving import AppOptions
    from ui_server import running_app

    with running_app(AppOptions(public=True, api_key=KEY)) as url:
        yield url.rstrip("/")


def _chat(client, model, **kw):
    messages = kw.pop("messages", [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hello!"}])
    return client.chat.completions.create(model=model, messages=messages, **kw)


def _template_tokens(model_dir: Path, messages: list[dict]) -> int:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    return len(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
               ["input_ids"])


# ---- models --------------------------------------------------------------------------------------

def test_models_lists_the_playground_references(client, tiny_model, trained_adapter):
    from forge.config import EMBEDDED_MODEL

    ids = [m.id for m in client.models.list()]
    assert trained_adapter["id"] in ids and EMBEDDED_MODEL in ids and str(tiny_model) in ids
    assert ids.index(trained_adapter["id"]) < ids.index(EMBEDDED_MODEL)  # fine-tuned models first, as in the picker
    assert client.models.retrieve(trained_adapter["id"]).owned_by == "modelforge"


# ---- chat ----------------------------------------------------------------------------------------

def test_chat_with_a_system_prompt_and_usage(client, tiny_model):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hello!"}]
    r = _chat(client, str(tiny_model), messages=messages, max_tokens=6, temperature=0)
    assert r.object == "chat.completion" and r.model == str(tiny_model)
    assert r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str)
    assert r.usage.prompt_tokens == _template_tokens(tiny_model, messages)  # the system prompt is in the prompt
    assert 0 < r.usage.completion_tokens <= 6
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.choices[0].finish_reason in ("stop", "length")


def test_chat_streams_the_same_answer(client, trained_adapter):
    kw = dict(max_tokens=8, temperature=0)
    whole = _chat(client, trained_adapter["id"], **kw)
    chunks = list(_chat(client, trained_adapter["id"], stream=True, stream_options={"include_usage": True}, **kw))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_stream_is_server_sent_events(app_url, tiny_model):
    import urllib.request

    body = {"model": "tiny-llama", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "stream": True}
    req = urllib.request.Request(f"{app_url}/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lines = [ln for ln in resp.read().decode().split("\n") if ln]
    assert all(ln.startswith("data: ") for ln in lines) and lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_max_tokens_and_temperature_zero(client, tiny_model):
    a = _chat(client, str(tiny_model), max_tokens=5, temperature=0)
    b = _chat(client, str(tiny_model), max_completion_tokens=5, temperature=0)
    assert a.choices[0].message.content == b.choices[0].message.content  # greedy: the same answer
    assert a.usage.completion_tokens <= 5 and b.usage.completion_tokens <= 5
    if a.usage.completion_tokens == 5:
        assert a.choices[0].finish_reason == "length"
    hot = _chat(client, str(tiny_model), max_tokens=3, temperature=1.5, top_p=0.5)
    assert hot.usage.completion_tokens <= 3


def test_stop_ends_the_text_before_it(client, tiny_model):
    prompt = "Once upon a time"
    full = client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=24, temperature=0)
    text = full.choices[0].text
    words = text.split()
    assert len(set(words)) > 1, f"the tiny model's answer is too uniform to test stop: {text!r}"
    stop = " " + words[-1]
    cut = text[:text.index(stop)]
    r = client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=24, temperature=0,
                                  stop=[stop, "never-said"])
    assert r.choices[0].text == cut and r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens < full.usage.completion_tokens  # generation ended there
    s = list(client.completions.create(model="tiny-llama", prompt=prompt, max_tokens=24, temperature=0, stop=stop,
                                       stream=True))
    assert "".join(c.choices[0].text for c in s) == cut and s[-1].choices[0].finish_reason == "stop"


# ---- completions ---------------------------------------------------------------------------------

def test_completions_continue_the_raw_prompt(client, tiny_model):
    from transformers import AutoTokenizer

    from forge.inference import generate_text

    prompt = "The capital of France is"
    r = client.completions.create(model=str(tiny_model), prompt=prompt, max_tokens=8, temperature=0)
    assert r.object == "text_completion"
    assert r.usage.prompt_tokens == len(AutoTokenizer.from_pretrained(tiny_model)(prompt)["input_ids"])
    assert r.choices[0].text == generate_text(str(tiny_model), prompt, {"temperature": 0, "max_new_tokens": 8})


# ---- errors --------------------------------------------------------------------------------------

def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        _chat(client, "no-such-model", max_tokens=2)
    assert e.value.body["code"] == "model_not_found" and e.value.body["param"] == "model"
    assert "no-such-model" in e.value.body["message"] and "/v1/models" in e.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="/etc", prompt="x", max_tokens=2)  # not a listed model: never loaded


def test_over_long_prompt_is_400(client, tiny_model):
    with pytest.raises(openai.BadRequestError) as e:
        _chat(client, "tiny-llama", messages=[{"role": "user", "content": "pirate " * 1100}], max_tokens=10)
    body = e.value.body
    assert body["code"] == "context_length_exceeded" and body["type"] == "invalid_request_error"
    assert "maximum context length is 1024 tokens" in body["message"]
    with pytest.raises(openai.BadRequestError) as e:  # fits alone, not with the completion asked for
        _chat(client, "tiny-llama", messages=[{"role": "user", "content": "pirate " * 500}], max_tokens=1000)
    assert e.value.body["code"] == "context_length_exceeded" and "max_tokens" in e.value.body["message"]


def test_bad_requests_say_what_is_wrong(client, tiny_model):
    with pytest.raises(openai.BadRequestError, match="n=1") as e:
        _chat(client, "tiny-llama", n=2, max_tokens=2)
    assert e.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as e:
        _chat(client, "tiny-llama", temperature=3, max_tokens=2)
    assert e.value.body["param"] == "temperature" and "2" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        _chat(client, "tiny-llama", messages=[{"role": "tool", "content": "x"}], max_tokens=2)
    assert e.value.body["param"].startswith("messages.0.role")


# ---- access ---------------------------------------------------------------------------------------

def test_api_key_is_required_when_set(keyed_url):
    import urllib.error
    import urllib.request

    with pytest.raises(openai.AuthenticationError) as e:
        _client(keyed_url, "sk-wrong").models.list()
    assert e.value.body["code"] == "invalid_api_key" and "Authorization: Bearer" in e.value.body["message"]
    assert KEY not in e.value.body["message"]
    with pytest.raises(urllib.error.HTTPError) as e:  # no Authorization header at all
        urllib.request.urlopen(f"{keyed_url}/v1/models", timeout=30)
    assert e.value.code == 401
    error = json.loads(e.value.read())["error"]
    assert error["code"] == "invalid_api_key" and error["message"].startswith("Missing API key")
    assert _client(keyed_url, KEY).models.list().data


def test_public_app_without_key_or_login_refuses(tiny_model):
    """Served on every interface, without a login or a key (even built without options): refused."""
    from forge.ui import build_app, launch_kwargs
    from ui_server import free_port

    demo = build_app()
    port = free_port()
    demo.launch(server_name="0.0.0.0", server_port=port, prevent_thread_lock=True, quiet=True, **launch_kwargs())
    try:
        with pytest.raises(openai.PermissionDeniedError) as e:
            _chat(_client(f"http://127.0.0.1:{port}"), "tiny-llama", max_tokens=2)
    finally:
        demo.close()
    assert e.value.body["code"] == "api_key_required" and "MODELFORGE_API_KEY" in e.value.body["message"]


def test_access_rule():
    from forge.serving.auth import AccessDenied, AppOptions, check, is_loopback

    login = AppOptions(public=True, auth=("ada", "s3cret"))
    check(login, "Bearer ada:s3cret")
    with pytest.raises(AccessDenied, match="user:password"):
        check(login, "Bearer ada:wrong")
    check(AppOptions(), None)  # local, no login: open
    with pytest.raises(AccessDenied) as e:
        check(AppOptions(public=True), None)
    assert e.value.status == 403
    assert "s3cret" not in repr(login) and KEY not in repr(AppOptions(api_key=KEY))
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_curl_example_from_the_readme(keyed_url, tiny_model):
    """The README's curl command, run as written (the port and model swapped for the test's)."""
    from forge.config import EMBEDDED_MODEL

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```bash\n(curl http://127\.0\.0\.1:7860/v1/chat/completions.*?)```", readme, re.S)
    assert found, "README.md has no curl example for /v1/chat/completions"
    command = found.group(1).replace("http://127.0.0.1:7860", keyed_url).replace(EMBEDDED_MODEL, "tiny-llama")
    assert "$MODELFORGE_API_KEY" in command
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "MODELFORGE_API_KEY": KEY})
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["object"] == "chat.completion" and reply["usage"]["completion_tokens"] >= 1
    bad = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "MODELFORGE_API_KEY": "wrong"})
    assert json.loads(bad.stdout)["error"]["code"] == "invalid_api_key"
    assert shlex.split(command)[0] == "curl"
