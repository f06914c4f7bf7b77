"""The studio as an MCP server: the actions an AI client (Claude Desktop, Cursor, VS Code...) sees
as tools, and under which names.

``python app.py --mcp`` turns on Gradio's MCP server at ``/gradio_api/mcp/`` (streamable HTTP).
Gradio would offer every documented endpoint as a tool named after its Python function; the studio
offers the endpoints listed in ``TOOLS`` instead, named for what they do, and answers with JSON
text. Each tool's description is its endpoint's API description (the endpoint function's docstring
before ``Args:``); its parameters are described by that docstring's ``Args:``.

Three endpoints are made here for clients that call once and wait for the answer (an MCP tool
call must return): ``/start_run`` queues a run and returns at once (``/train`` streams until the
run ends), ``/follow_run`` says how a run is doing now or after waiting at most some seconds, and
``/list_datasets`` lists what a run can train on. They are ordinary API endpoints as well.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from typing import Any

from ..errors import ConfigError, ForgeError
from ..training.state import RunState
from .endpoint import endpoint
from .run_view import find_active_run, follow, submit

WHERE = "the MCP tools"

MCP_PATH = "gradio_api/mcp/"
MAX_WAIT_S = 50  # follow_run's longest wait: under the 60 s many MCP clients give a tool call (named in its docstring)
LOG_TAIL = 8

# tool name -> endpoint, in the order a client lists them; an endpoint this server lacks is left out
TOOLS = {
    "list_models": "models",
    "list_datasets": "list_datasets",
    "list_strategies": "strategies",
    "validate_dataset": "validate_dataset",
    "start_run": "start_run",
    "follow_run": "follow_run",
    "list_runs": "runs",
    "stop_run": "stop",
    "resume_run": "resume",
    "evaluate_model": "evaluate",
    "chat": "generate",
    "compare_with_base": "compare",
    "merge_adapter": "merge",
    "export_model": "export",
    "export_gguf": "export_gguf",
}
# endpoints that stream until a run ends, not tools: their one-call tools
STREAMED = {"train": "start_run", "follow": "follow_run"}

def _parse(text: str) -> Any:
    """JSON or YAML text as data; a JSON object that YAML cannot read either is reported as JSON."""
    import yaml

    try:
        return json.loads(text) if text.startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        bad_json = e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config is not valid YAML{where}.",
                          "Write one `key: value` per line, or a JSON object.") from None
    try:
        return yaml.safe_load(text)  # {key: value} without quotes is YAML
    except yaml.YAMLError:
        raise ConfigError(f"config is not valid JSON: {bad_json.msg} at line {bad_json.lineno}, column "
                          f"{bad_json.colno}.", 'Write it as a JSON object, for example {"dataset": '
                          '"sample:pirate_persona"}.') from None


def config_from_text(config: dict | str | None) -> dict[str, Any]:
    """A run config given as a mapping, JSON text or YAML text, as a mapping (not yet validated)."""
    if isinstance(config, dict):
        data: Any = config
    else:
        text = (config or "").strip()
        if not text:
            raise ConfigError("config is empty.", 'Give at least the dataset, for example {"dataset": '
                              '"sample:pirate_persona"}; every other setting has a default.')
        data = _parse(text)
    if not isinstance(data, dict):
        name = type(data).__name__
        kind = {"str": "plain text", "int": "a number", "float": "a number"}.get(name, f"a {name}")
        raise ConfigError(f"config must be a mapping of setting names to values, not {kind}.",
                          'For example {"dataset": "sample:pirate_persona", "max_steps": 30}.')
    return dict(data)


def start_run(config: dict | str) -> dict:
    """Start a fine-tuning run and return at once with its run_id (the run trains in its own process;
    follow it with /follow_run). config: the run's settings as a JSON object or YAML text, with the
    keys of config.yaml (model_name, dataset, task, strategy, max_steps, learning_rate, lora_r, ...);
    every setting left out takes the hardware's default. Returns run_id, name, status (queued or
    running), queue_position, model, dataset, strategy. Example:
    {"dataset": "sample:pirate_persona", "max_steps": 30, "run_name": "pirate"}.

    Args:
        config: the run's settings as a JSON object or YAML text (keys of config.yaml), e.g. {"dataset": "sample:pirate_persona", "max_steps": 30}
    """
    from ..history import run_summary
    from ..training import get_queue

    rec = submit(config_from_text(config))
    return {"run_id": rec["id"], **run_summary(rec), "queue_position": get_queue().position(rec["id"]),
            "next": f"follow_run with run_id {rec['id']} (wait_seconds up to {MAX_WAIT_S}) until it has ended"}


def _model_of(run_id: str) -> str | None:
    """The id of the model a run saved (None when it saved none)."""
    from ..refs import find_record

    try:
        rec = find_record(run_id)
    except ForgeError:
        return None
    return rec["id"] if rec else None


def _next_step(view: RunState, model_id: str | None) -> str:
    if not view.finished:
        return f"follow_run again with run_id {view.run_id} and wait_seconds (at most {MAX_WAIT_S})"
    if view.status == "completed" and model_id:
        return f"chat, evaluate_model or export_model with model {model_id}"
    return f"see error and log_tail; resume_run with run_id {view.run_id} continues from its last checkpoint"


def progress(view: RunState) -> dict[str, Any]:
    """A run's state for a client that reads it once: the progress update without the events, the
    log's last lines, a short evaluation, the model it saved and what to do next."""
    out = view.update()
    out.pop("events", None)
    out["progress_percent"] = round(100 * view.progress_fraction(), 1)
    out["log_tail"] = list(view.log)[-LOG_TAIL:]
    if isinstance(out.get("evaluation"), dict):
        out["evaluation"] = {**out["evaluation"], "samples": (out["evaluation"].get("samples") or [])[:3]}
    out["model_id"] = _model_of(view.run_id) if view.status == "completed" else None
    out["next"] = _next_step(view, out["model_id"])
    return out


def _wait_limit(wait_seconds: Any) -> float:
    try:
        wait = float(wait_seconds or 0)
    except (TypeError, ValueError):
        raise ConfigError(f"wait_seconds must be a number of seconds, not {wait_seconds!r}.",
                          f"Give 0 to answer at once, or up to {MAX_WAIT_S}.") from None
    if not 0 <= wait <= MAX_WAIT_S:  # also refuses NaN
        raise ConfigError(f"wait_seconds must be between 0 and {MAX_WAIT_S} (got {wait_seconds}).",
                          "Call follow_run again to wait longer.")
    return wait


async def follow_run(run_id: str = "", wait_seconds: float = 0) -> dict:
    """How a run is doing: status (queued, running, completed, failed, stopped, interrupted), step / max_steps,
    progress_percent, ETA in seconds, last train loss, eval loss, learning rate, the error of a failed run, the
    last log lines, and for a completed run its metrics and the model_id to chat with. run_id: from /start_run
    or /runs (empty: the active run). wait_seconds: 0 answers at once; up to 50 waits until the run ends or
    that time passes. Example: {"run_id": "20260101-120000-ab12", "wait_seconds": 30}.

    Args:
        run_id: the run's id, from start_run or list_runs; empty: the run training now
        wait_seconds: 0 answers at once; up to 50 waits for the run to end that long at most
    """
    deadline = time.monotonic() + _wait_limit(wait_seconds)
    rid = (run_id or "").strip() or find_active_run()
    if not rid:
        raise ConfigError("No run is active, and no run_id was given.",
                          "Give the run_id that start_run returned, or pick one from list_runs.")
    latest: list[RunState] = []  # the state as last read (the follow yields at least once)
    async for state, _, _ in follow(rid, until=lambda: bool(latest) and time.monotonic() >= deadline):
        latest[:] = [state]
    return progress(latest[0])


def _sample_info(name: str, path) -> dict[str, Any]:
    from ..data.tasks import detect_task

    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    columns = list(json.loads(lines[0])) if lines else []
    return {"dataset": f"sample:{name}", "task": detect_task(columns), "rows": len(lines), "columns": columns}


def list_datasets() -> dict:
    """The datasets a run can train on: the built-in samples (dataset reference sample:NAME, task, rows,
    columns) and the files uploaded to the server (reference: the file name). A Hub dataset id (org/name) also
    works when the server is online. Put the reference in config.dataset of /start_run; check one first with
    /validate_dataset."""
    from ..data import samples
    from ..housekeeping import list_datasets as uploaded

    return {"samples": [_sample_info(name, path) for name, path in samples().items()],
            "uploaded": [{"dataset": d["name"], "size": d["size"], "modified": d["modified"]} for d in uploaded()],
            "other": "a Hub dataset id (org/name) when the server is online"}


def build() -> None:
    """Register the endpoints made for one-call clients (inside the page's Blocks)."""
    for fn in (start_run, follow_run, list_datasets):
        endpoint(fn, where=WHERE, concurrency_limit=None)


# ---- the MCP server ----------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    """A dict or list result as JSON text (a file result stays a file: the client gets its URL)."""
    from gradio_client.utils import is_file_obj_with_meta

    if isinstance(value, (dict, list)) and not is_file_obj_with_meta(value):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _tool_words(text: str, names: dict[str, str]) -> str:
    """An API description as a tool's: ``/models`` becomes ``list_models`` (org/name is left alone)."""
    return re.sub(r"(?<![\w./])/(\w+)", lambda m: names.get(m[1], m[0]), text)


def offer_tools(server) -> None:
    """Make Gradio's MCP server offer ``TOOLS`` under their names, describe them in those names, and
    answer with JSON text."""
    named = server.api_info["named_endpoints"]
    server.tool_to_endpoint = {server.tool_prefix + tool: f"/{endpoint}" for tool, endpoint in TOOLS.items()
                               if f"/{endpoint}" in named}
    names = {**STREAMED, **{endpoint: tool for tool, endpoint in TOOLS.items()}}
    describe = server.get_fn_description

    def described(block_fn, tool_name):
        text, params = describe(block_fn, tool_name)
        return _tool_words(text, names), {k: _tool_words(v, names) for k, v in params.items()}

    server.get_fn_description = described
    postprocess = server.postprocess_output_data
    server.postprocess_output_data = lambda data, root_url: postprocess([_jsonable(d) for d in data], root_url)


@contextlib.asynccontextmanager
async def _studio_tools(app):
    """Runs as the server starts, after Gradio made its MCP server and before any request."""
    server = app.get_blocks().mcp_server_obj
    if server is not None:
        offer_tools(server)
    yield


def app_kwargs(mcp: bool) -> dict[str, Any]:
    """What ``demo.launch(mcp_server=True, app_kwargs=...)`` needs for the studio's tools."""
    return {"lifespan": _studio_tools} if mcp else {}


def mcp_url(base_url: str) -> str:
    """The MCP endpoint of a studio served at ``base_url``."""
    return base_url.rstrip("/") + "/" + MCP_PATH


__all__ = ["MAX_WAIT_S", "TOOLS", "app_kwargs", "build", "config_from_text", "follow_run",
           "list_datasets", "mcp_url", "offer_tools", "progress", "start_run"]
