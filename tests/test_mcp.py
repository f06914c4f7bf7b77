"""The studio as an MCP server: the app launched with its MCP tools, driven with the `mcp` client over
streamable HTTP, as an AI client would."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ui_server import running_app, wait_idle

TOOLS = {"list_models", "list_datasets", "list_strategies", "validate_dataset", "start_run", "follow_run",
         "list_runs", "stop_run", "resume_run", "evaluate_model", "chat", "compare_with_base", "merge_adapter", "export_model"}


@pytest.fixture(scope="module")
def mcp_url(tiny_model):
    from forge.ui import launch_kwargs
    from forge.ui.mcp_tools import mcp_url as url_of

    with running_app(**launch_kwargs(mcp=True)) as url:
        yield url_of(url)


def with_session(url: str, work):
    """Run ``await work(session)`` in one MCP session with the app."""

    async def main():
        async with streamable_http_client(url) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(main())


def call(url: str, tool: str, **arguments):
    """A tool's answer: (is it an error?, its text)."""

    async def work(session):
        return await session.call_tool(tool, arguments)

    result = with_session(url, work)
    return result.isError, "".join(c.text for c in result.content if c.type == "text")


def answer(url: str, tool: str, **arguments):
    """A tool's JSON answer (the call must succeed)."""
    error, text = call(url, tool, **arguments)
    assert not error, text
    return json.loads(text)


def test_tools_are_the_studios_actions_with_descriptions(mcp_url):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {t.name: t for t in with_session(mcp_url, work)}
    assert TOOLS <= set(tools), sorted(tools)
    # the page's own events and the endpoints that stream until a run ends are not tools
    assert not set(tools) - TOOLS - {"export_gguf"}, sorted(tools)
    assert not {"train", "follow", "on_load", "watch", "validate", "api_train", "models_api"} & set(tools)
    for tool in tools.values():
        assert len(tool.description) > 80, (tool.name, tool.description)
        assert "Example" in tool.description or not tool.inputSchema.get("properties") \
            or tool.name not in TOOLS, tool.name
    # descriptions name the tools, not the endpoints behind them
    assert "follow_run" in tools["start_run"].description and "/follow_run" not in tools["start_run"].description
    assert "list_models" in tools["chat"].description and "/models" not in tools["chat"].description
    # each parameter is described; only what must be given is required
    for name in {"start_run", "follow_run", "chat", "evaluate_model", "stop_run", "validate_dataset",
                 "export_gguf"} & set(tools):
        props = tools[name].inputSchema["properties"]
        assert all(p.get("description") for p in props.values()), (name, props)
    assert tools["validate_dataset"].inputSchema["required"] == ["dataset"]
    assert tools["follow_run"].inputSchema.get("required") is None
    assert tools["chat"].inputSchema["required"] == ["model"]


def test_a_run_started_followed_and_chatted_with(mcp_url, tiny_model):
    wait_idle()
    samples = {d["dataset"]: d for d in answer(mcp_url, "list_datasets")["samples"]}
    assert samples["sample:pirate_persona"]["task"] == "text-generation"
    checked = answer(mcp_url, "validate_dataset", dataset="sample:pirate_persona")
    assert checked["ok"] and checked["rows"] == samples["sample:pirate_persona"]["rows"]

    config = (f"model_name: {tiny_model}\ndataset: sample:pirate_persona\nmax_steps: 4\neval_split: 0\n"
              "per_device_train_batch_size: 2\nmax_seq_length: 64\nmax_samples: 16\nlogging_steps: 1\n"
              "lora_r: 4\nlora_alpha: 8\nrun_name: from-mcp\n")
    started = answer(mcp_url, "start_run", config=config)
    run_id = started["run_id"]
    assert started["name"] == "from-mcp" and started["status"] in ("queued", "running")

    t0 = time.monotonic()
    now = answer(mcp_url, "follow_run", run_id=run_id)  # wait_seconds 0: answers at once
    assert time.monotonic() - t0 < 5 and now["run_id"] == run_id and "events" not in now
    deadline = time.monotonic() + 120
    while not now["finished"] and time.monotonic() < deadline:
        now = answer(mcp_url, "follow_run", run_id=run_id, wait_seconds=20)
    assert now["status"] == "completed", now
    assert now["step"] == now["max_steps"] == 4 and now["progress_percent"] == 100.0
    assert isinstance(now["loss"], float) and now["model_id"] and now["model_id"] in now["next"]
    assert run_id in {r["id"] for r in answer(mcp_url, "list_runs")}
    assert now["model_id"] in {m["id"] for m in answer(mcp_url, "list_models")}

    error, text = call(mcp_url, "chat", model=now["model_id"], prompt="How do I boil an egg?",
                       settings={"max_new_tokens": 8, "temperature": 0})
    assert not error and text, text  # the whole answer, as text (a tiny random model says little)
    error, url = call(mcp_url, "export_model", model_id=now["model_id"])
    assert not error and url.startswith("http") and url.endswith(".zip"), url


@pytest.mark.parametrize(("tool", "arguments", "expected"), [
    ("start_run", {"config": "dataset: sample:pirate_persona\nmax_steps: 0"}, "max_steps: 0 steps trains nothing"),
    ("start_run", {"config": {"learning_rate": "lots"}}, "learning_rate: Input should be a valid number"),
    ("start_run", {"config": '{"dataset": "sample:pirate_persona",'}, "config is not valid JSON"),
    ("start_run", {"config": "- a list\n- of things"}, "config must be a mapping"),
    ("start_run", {"config": ""}, "config is empty"),
    ("start_run", {"config": "just words"}, "not plain text"),
    ("follow_run", {"run_id": "no-such-run"}, "There is no run 'no-such-run'"),
    ("follow_run", {"run_id": "no-such-run", "wait_seconds": 1000}, "wait_seconds must be between 0 and 50"),
    ("stop_run", {"run_id": "no-such-run"}, "no-such-run"),
    ("chat", {"model": "no-such-model", "prompt": "Hi"}, "There is no model named 'no-such-model'"),
    ("export_model", {"model_id": "no-such-model"}, "There is no model 'no-such-model'"),
    ("chat", {"prompt": "Hi"}, "'model' is a required property"),
])
def test_a_bad_call_gets_a_clear_error(mcp_url, tool, arguments, expected):
    error, text = call(mcp_url, tool, **arguments)
    assert error, text
    assert expected in text and "Traceback" not in text, text


def test_app_flag_and_login(monkeypatch, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("app", Path(__file__).parent.parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.delenv("MODELFORGE_MCP", raising=False)
    assert not app.parse_args([]).mcp and app.parse_args(["--mcp"]).mcp
    monkeypatch.setenv("MODELFORGE_MCP", "1")
    assert app.parse_args([]).mcp
    # MCP clients cannot log in: behind --auth the tools are not served, and the start-up says why
    assert app.mcp_wanted(True, None) and not app.mcp_wanted(False, None)
    assert not app.mcp_wanted(True, ("me", "secret"))
    assert "--mcp is ignored with --auth" in capsys.readouterr().out


def test_a_config_as_json_yaml_or_a_mapping():
    from forge.ui.mcp_tools import config_from_text

    want = {"dataset": "sample:pirate_persona", "max_steps": 3}
    assert config_from_text('{"dataset": "sample:pirate_persona", "max_steps": 3}') == want
    assert config_from_text("dataset: sample:pirate_persona\nmax_steps: 3\n") == want
    assert config_from_text("{dataset: sample:pirate_persona, max_steps: 3}") == want  # YAML's flow style
    assert config_from_text(dict(want)) == want
