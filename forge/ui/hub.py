"""Hub tab: check a token, push a fine-tuned model with its card, search and download base models
and datasets, and see where this studio keeps its models (on a Space too).

The tab is four panels (account, push, model search, dataset search) held together in a
:class:`Hub`. The handlers are module-level functions that take the ``Hub`` first and return
``{component: value}``; ``build`` lays out the panels and wires the events. The work is done
by :mod:`forge.hub`.

Every action is also an API endpoint: ``/whoami``, ``/push``, ``/search_models``,
``/search_datasets``, ``/download_model``, ``/download_dataset``, ``/cached_models``.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import hub
from .endpoint import endpoint
from .widgets import bind, friendly_error

log = logging.getLogger(__name__)

WHERE = "the Hub tab"
SHARE_WARNING = ("This studio was started with --share and no login: anyone with its public link can train on "
                 "this machine and use its Hugging Face token. Restart it with --auth user:password (or "
                 "MODELFORGE_AUTH) to require one.")
MODEL_COLUMNS = ["Model", "Size", "Licence", "Downloads", "Likes", "Updated"]
DATASET_COLUMNS = ["Dataset", "Size", "Licence", "Downloads", "Likes", "Updated"]
COLUMN_WIDTHS = ["34%", "10%", "14%", "14%", "10%", "18%"]
KIND_CHOICES = [("Adapter only: small, loads on top of its base", "adapter"),
                ("Merged into its base: a standalone model", "merged")]
# the same values for any model (a page event may still carry the last model's choice), fixed to "merged"
WHOLE_MODEL_CHOICES = [("Adapter only (this model has no adapter)", "adapter"),
                       ("The whole model (fully fine-tuned or merged)", "merged")]
SORT_CHOICES = [("Downloads", "downloads"), ("Likes", "likes")]
NO_CARD = "Pick a model to see its card."
HIDDEN = {"api_visibility": "private", "show_progress": "hidden"}  # the page's own events: no API, no spinner
SPACE_HELP = """Turn this studio into a Hugging Face Space (a GPU Space: settings in `spaces_config.yaml`):

```bash
python -m forge space build space/        # a ready-to-push folder: README.md, app.py, forge/, requirements.txt
HF_TOKEN=hf_... python -m forge space deploy your-name/modelforge   # create or update the Space and upload
```

Or share this machine for a while: `python app.py --share --auth user:password`."""


def share_banner(options) -> None:
    """The share warning at the top of the page, when the studio is shared without a login
    (``options``: the app's :class:`~forge.serving.auth.AppOptions`)."""
    if options.shared_without_login:
        gr.Markdown(f"⚠️ **Warning.** {SHARE_WARNING}", elem_id="mf-share-warning", elem_classes="mf-warning")


def _fail(e: BaseException) -> str:
    """An error shown in the tab (not raised): what went wrong and how to fix it, tokens scrubbed."""
    return "❌ " + html.escape(friendly_error(e, WHERE, hub.scrub)).replace("\n", "  \n")


def _progress(progress: gr.Progress):
    return lambda fraction, message: progress(max(0.0, min(1.0, fraction)), desc=message)


# ---- plain functions shared by widgets and endpoints -------------------------------------------

def account_markdown(token: str | None) -> tuple[str, str]:
    """The account line and the account name ('' when unknown)."""
    try:
        a = hub.whoami(token)
    except Exception as e:
        return _fail(e), ""
    source = "the token field" if a["token_source"] == "field" else a["token_source"]
    role = {"write": "write access", "read": "read only: it cannot push", "fineGrained": "fine-grained"}.get(
        a["role"], a["role"] or "unknown access")
    orgs = f" · organizations: {', '.join(a['orgs'])}" if a["orgs"] else ""
    return f"✅ Signed in as **{a['name']}** ({role}; token from {source}){orgs}", a["name"] or ""


def token_hint() -> str:
    source = hub.token_source(None)
    if source:
        return f"Empty field: the token in {source} (set on the server) is used."
    return "No token in the environment: paste one (huggingface.co/settings/tokens) to push. Search works without."


def model_choices() -> list[tuple[str, str]]:
    rows = hub.pushable_models()
    return [(f"{m['name']} ({m['kind']}{', ' + str(m['base_model']).split('/')[-1] if m.get('base_model') else ''})",
             m["id"]) for m in rows]


def repo_markdown(repo_id: str | None) -> str:
    if not (repo_id or "").strip():
        return "Name it namespace/name: your account (or organization), a slash, the model's name."
    problem = hub.repo_id_problem(repo_id)
    return f"⚠️ {html.escape(problem)}" if problem else f"✅ `{repo_id.strip()}` is a valid name."


def _space_lines(s: dict[str, Any]) -> list[str]:
    """What a Space keeps, and for how long; a warning when it holds a token anyone can push with."""
    if s["persistent"]:
        lines = [f"Running on the Space **{s['space_id']}**. Runs, models and datasets are kept in "
                 f"`{s['home']}`, on the Space's persistent storage: they survive restarts."]
    else:
        lines = [f"Running on the Space **{s['space_id']}** without persistent storage: runs and models "
                 f"in `{s['home']}` are lost when the Space restarts. Enable persistent storage in the "
                 f"Space's settings (ModelForge then uses `/data/modelforge`), or push models to the Hub."]
    if hub.token_source(None):
        lines.append("This Space has a Hub token in its environment: anyone who can open the Space can push "
                     "with it. Keep the Space private, or remove the secret and paste a token per visit.")
    return lines


def storage_markdown(share_url: str | None = None) -> str:
    s = hub.storage_info()
    lines = [f"Public link of this studio: {share_url}"] if share_url else []
    if s["on_space"]:
        lines += _space_lines(s)
    else:
        lines.append(f"Runs, models and datasets are kept in `{s['home']}`.")
    lines.append(f"Base models downloaded from the Hub go to the Hugging Face cache, `{s['hub_cache']}`.")
    if s["offline"]:
        lines.append("Offline mode is on (HF_HUB_OFFLINE): the Hub actions below are off.")
    return "  \n".join(lines)


def cached_markdown() -> str:
    rows = hub.cached_models()
    if not rows:
        return "No Hub models in the local cache yet."
    return "**In the local cache** (pick them on the Finetune tab): " + ", ".join(
        f"`{r['repo_id']}` ({r['size']})" for r in rows[:20])


def found_table(rows: list[dict], columns: list[str]):
    """Search results as the table shows them (unknown sizes and licences as '?')."""
    import pandas as pd

    return pd.DataFrame([[r["id"], r["size"] or "?", r["license"] or "?", r["downloads"], r["likes"], r["updated"]]
                         for r in rows], columns=columns)


def card_view(model_id: str, repo_id: str | None, what: str) -> str:
    """The card a push would write, for reading on the page: its metadata as a YAML block, and the
    loss-curve image (a file of the pushed repository) named rather than shown."""
    card = hub.card_preview(model_id, repo_id, what or "adapter")
    meta = ""
    if card.startswith("---\n"):
        end = card.find("\n---\n", 4)
        if end > 0:
            meta, card = card[4:end + 1], card[end + 5:]
    card = re.sub(r"!\[([^\]]*)\]\(loss_curve\.png\)",
                  r"*\1: the image `loss_curve.png`, pushed with the card.*", card)
    return (f"Metadata (the card's header):\n\n```yaml\n{meta}```\n\n" if meta else "") + card


def pushed_markdown(r: dict[str, Any]) -> str:
    """What a push answered: where the model went and its files, or the overwrite question."""
    if r["status"] == "needs_confirmation":
        return (f"⚠️ [{r['repo_id']}]({r['url']}) already exists. Pushing replaces its files. "
                f"Press **Overwrite it** to go on, or change the name.")
    visibility = {True: "private", False: "public", None: "visibility unchanged"}[r["private"]]
    return f"✅ Pushed ({visibility}): [{r['url']}]({r['url']})  \nFiles: {', '.join(f'`{f}`' for f in r['files'])}"


# ---- the panels --------------------------------------------------------------------------------

@dataclass
class Account:
    """The token and whose account it is."""

    token: gr.Textbox
    check: gr.Button
    info: gr.Markdown
    name: gr.State  # the account's name, to suggest repository names


@dataclass
class Push:
    """Publishing a fine-tuned model: which, as what, where, and its card."""

    model: gr.Dropdown
    refresh: gr.Button
    kind: gr.Radio
    repo: gr.Textbox
    repo_check: gr.Markdown
    private: gr.Checkbox
    push: gr.Button
    overwrite: gr.Button
    result: gr.Markdown
    card: gr.Markdown


@dataclass
class Search:
    """Searching the Hub for models or datasets, and downloading the one picked."""

    query: gr.Textbox
    sort: gr.Radio
    search: gr.Button
    table: gr.Dataframe
    found: gr.State  # the rows found, to pick one by the table row clicked
    pick: gr.Textbox
    download: gr.Button
    status: gr.Markdown
    license: gr.Dropdown | None = None  # model search only
    size: gr.Number | None = None
    cached: gr.Markdown | None = None


@dataclass
class Hub:
    """The tab's panels: what its handlers read and fill."""

    storage: gr.Markdown
    account: Account
    push: Push
    models: Search
    datasets: Search


def account_panel() -> Account:
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### Hugging Face account")
        with gr.Row():
            token = gr.Textbox(label="Token", type="password", placeholder="hf_...", scale=4,
                               info="Kept in this page only: never saved on the server.", elem_id="mf-hub-token")
            check = gr.Button("Check", scale=1, elem_id="mf-hub-check")
        info = gr.Markdown(token_hint(), elem_id="mf-hub-account")
    return Account(token, check, info, gr.State(""))


def push_panel() -> Push:
    with gr.Group(elem_classes="mf-section"):
        gr.Markdown("### Publish a fine-tuned model")
        with gr.Row():
            model = gr.Dropdown(model_choices(), value=None, label="Model", scale=4, elem_id="mf-hub-model")
            refresh = gr.Button("↻", scale=0, min_width=40)
        kind = gr.Radio(KIND_CHOICES, value="adapter", label="What to push", elem_id="mf-hub-kind")
        repo = gr.Textbox(label="Repository", placeholder="your-name/my-model", elem_id="mf-hub-repo")
        repo_check = gr.Markdown(repo_markdown(""), elem_id="mf-hub-repo-check")
        private = gr.Checkbox(True, label="Private repository", elem_id="mf-hub-private",
                              info="Only you (and your organization) can see it. Change it later on the Hub.")
        with gr.Row():
            push = gr.Button("Push to the Hub", variant="primary", elem_id="mf-hub-push")
            overwrite = gr.Button("Overwrite it", variant="stop", visible=False, elem_id="mf-hub-overwrite")
        result = gr.Markdown("", elem_id="mf-hub-push-result")
        with gr.Accordion("Model card preview", open=False):
            card = gr.Markdown(NO_CARD, elem_id="mf-hub-card")
    return Push(model, refresh, kind, repo, repo_check, private, push, overwrite, result, card)


def _results(columns: list[str], what: str, table_id: str, download_id: str) -> tuple[Any, Any, Any, Any]:
    """The results table, the box of the one to download (a click on a row fills it), its button and
    the status line."""
    table = gr.Dataframe(headers=columns, interactive=False, wrap=True, max_height=320,
                         column_widths=COLUMN_WIDTHS, elem_id=table_id)
    with gr.Row():
        pick = gr.Textbox(label=f"{what} to download", placeholder="org/name (click a row)", scale=4)
        download = gr.Button("Download", scale=1, elem_id=download_id)
    return table, pick, download, gr.Markdown("")


def _search_box(title: str, placeholder: str, button_id: str | None = None) -> tuple[Any, Any, Any]:
    """The panel's title, the search words and the sort order (and the Search button, with its id)."""
    gr.Markdown(f"### {title}")
    with gr.Row():
        query = gr.Textbox(label="Search", placeholder=placeholder, scale=3)
        sort = gr.Radio(SORT_CHOICES, value="downloads", label="Sort by", scale=2)
        search = gr.Button("Search", scale=1, elem_id=button_id) if button_id else None
    return query, sort, search


def model_search_panel() -> Search:
    with gr.Group(elem_classes="mf-section"):
        query, sort, _ = _search_box("Find a base model", "SmolLM2, Qwen2.5 0.5B, llama...")
        with gr.Row():
            license = gr.Dropdown([("Any", "")] + [(x, x) for x in hub.LICENSES], value="", label="Licence",
                                  allow_custom_value=True)
            size = gr.Number(0, label="At most (billions of parameters)", minimum=0, info="0: any size")
            search = gr.Button("Search", elem_id="mf-hub-search-models")
        table, pick, download, status = _results(MODEL_COLUMNS, "Model", "mf-hub-models", "mf-hub-download-model")
        cached = gr.Markdown(cached_markdown(), elem_id="mf-hub-cached")
    return Search(query, sort, search, table, gr.State([]), pick, download, status, license, size, cached)


def dataset_search_panel() -> Search:
    with gr.Group(elem_classes="mf-section"):
        query, sort, search = _search_box("Find a dataset", "alpaca, dolly, ultrachat...", "mf-hub-search-datasets")
        table, pick, download, status = _results(DATASET_COLUMNS, "Dataset", "mf-hub-datasets",
                                                 "mf-hub-download-dataset")
    return Search(query, sort, search, table, gr.State([]), pick, download, status)


# ---- handlers: the account and the push ----------------------------------------------------------

def on_check(h: Hub, token: str, current_repo: str, model_id: str | None) -> dict[Any, Any]:
    """Say whose token it is; suggest a repository name under that account when none is given yet."""
    text, name = account_markdown(token)
    out = {h.account.info: text, h.account.name: name}
    if name and model_id and not (current_repo or "").strip():
        out[h.push.repo] = hub.suggest_repo_id(model_id, name)
    return out


def _kind_update(is_adapter: bool, current_kind: str | None):
    """An adapter pushes as itself or merged; any other model as the whole model (not a choice)."""
    if is_adapter:
        return gr.update(choices=KIND_CHOICES, value=current_kind or "adapter", interactive=True)
    return gr.update(choices=WHOLE_MODEL_CHOICES, value="merged", interactive=False)


def _model_picked(h: Hub, model_id: str, current_repo: str | None, name: str | None,
                  current_kind: str | None) -> dict[Any, Any]:
    rec = next((m for m in hub.pushable_models() if m["id"] == model_id), None)
    is_adapter = (rec or {}).get("kind") == "adapter"
    out = {h.push.kind: _kind_update(is_adapter, current_kind), h.push.overwrite: gr.update(visible=False)}
    repo_id = current_repo
    if not (current_repo or "").strip() or current_repo.strip().startswith("your-name/"):
        repo_id = out[h.push.repo] = hub.suggest_repo_id(model_id, name or None)
    out[h.push.card] = card_view(model_id, repo_id, (current_kind or "adapter") if is_adapter else "merged")
    return out


def on_model(h: Hub, model_id: str | None, current_repo: str | None, name: str | None,
             current_kind: str | None) -> dict[Any, Any]:
    """A model was picked: what it can be pushed as, a repository name when none is given, its card."""
    if not model_id:
        return {h.push.card: NO_CARD, h.push.overwrite: gr.update(visible=False)}
    try:
        return _model_picked(h, model_id, current_repo, name, current_kind)
    except Exception as e:
        return {h.push.card: _fail(e), h.push.overwrite: gr.update(visible=False)}


def on_push_settings(h: Hub, model_id: str | None, repo_id: str | None, what: str | None) -> dict[Any, Any]:
    """The repository name or what to push changed: the card follows, the overwrite question goes."""
    card = NO_CARD
    if model_id:
        try:
            card = card_view(model_id, repo_id, what)
        except Exception as e:
            card = _fail(e)
    return {h.push.repo_check: repo_markdown(repo_id), h.push.card: card, h.push.overwrite: gr.update(visible=False)}


def refreshed_models():
    """The push picker's choices again."""
    return gr.update(choices=model_choices())


def offer_run_model(run_id: str, current: str | None):
    """A run just saved a model: the picker offers it (what its user will want to push)."""
    choices = model_choices()
    made = [m["id"] for m in hub.pushable_models() if m.get("run_id") == run_id]
    return gr.update(choices=choices, value=made[0] if made else current or (choices[0][1] if choices else None))


def on_push(h: Hub, overwrite: bool, model_id: str | None, what: str | None, repo_id: str, private: bool,
            token: str, progress=gr.Progress()) -> dict[Any, Any]:
    """Push the model (``overwrite``: replace an existing repository's files); an existing repository
    is asked about first, with the Overwrite button."""
    result, ask = h.push.result, h.push.overwrite
    if not model_id:
        return {result: "Pick a model to push.", ask: gr.update(visible=False)}
    try:
        r = hub.push_model(model_id, repo_id, kind=what or "adapter", private=bool(private), overwrite=overwrite,
                           token=token, progress=_progress(progress))
    except Exception as e:
        return {result: _fail(e), ask: gr.update(visible=False)}
    return {result: pushed_markdown(r), ask: gr.update(visible=r["status"] == "needs_confirmation")}


# ---- handlers: search and download ---------------------------------------------------------------

def on_search_models(h: Hub, query: str, sort: str, license: str, size: float | None,
                     token: str) -> dict[Any, Any]:
    s = h.models
    try:
        rows = hub.search_models(query, sort=sort, license=license or None, max_params_b=size or None, token=token)
    except Exception as e:
        return {s.found: [], s.status: _fail(e)}
    note = f"{len(rows)} models." if rows else "No models match: try other words or remove the filters."
    return {s.table: found_table(rows, MODEL_COLUMNS), s.found: rows, s.status: note}


def on_search_datasets(h: Hub, query: str, sort: str, token: str) -> dict[Any, Any]:
    s = h.datasets
    try:
        rows = hub.search_datasets(query, sort=sort, token=token)
    except Exception as e:
        return {s.found: [], s.status: _fail(e)}
    return {s.table: found_table(rows, DATASET_COLUMNS), s.found: rows,
            s.status: f"{len(rows)} datasets." if rows else "No datasets match."}


def pick(rows: list[dict], evt: gr.SelectData):
    """The id of the search result whose row was clicked."""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return rows[row]["id"] if rows and 0 <= row < len(rows) else gr.skip()


def on_download_model(h: Hub, repo_id: str, token: str, progress=gr.Progress()) -> dict[Any, Any]:
    """Download a model into the Hugging Face cache (where the Finetune tab finds it)."""
    try:
        r = hub.download_model(repo_id, token=token, progress=_progress(progress))
    except Exception as e:
        return {h.models.status: _fail(e)}
    return {h.models.status: f"✅ {r['message']} ({r['size']})", h.models.cached: cached_markdown()}


def on_download_dataset(repo_id: str, token: str, progress=gr.Progress()) -> str:
    """Download and prepare a dataset, so that runs can train on it offline."""
    try:
        r = hub.download_dataset(repo_id, token=token, progress=_progress(progress))
    except Exception as e:
        return _fail(e)
    return f"✅ {r['message']}"


def on_open(h: Hub, demo: gr.Blocks) -> dict[Any, Any]:
    """The page opened: where models are kept (and the public link), the push picker on the newest
    fine-tuned model, the cached models."""
    choices = model_choices()
    return {h.storage: storage_markdown(getattr(demo, "share_url", None)),
            h.push.model: gr.update(choices=choices, value=choices[0][1] if choices else None),
            h.models.cached: cached_markdown()}


# ---- the tab -----------------------------------------------------------------------------------

def wire_push(ctx, h: Hub) -> None:
    a, p = h.account, h.push
    gr.on([a.check.click, a.token.submit], bind(on_check, h), [a.token, p.repo, p.model], [a.info, a.name, p.repo],
          api_visibility="private")
    p.model.change(bind(on_model, h), [p.model, p.repo, a.name, p.kind], [p.kind, p.repo, p.card, p.overwrite],
                   **HIDDEN)
    gr.on([p.repo.change, p.kind.change], bind(on_push_settings, h), [p.model, p.repo, p.kind],
          [p.repo_check, p.card, p.overwrite], trigger_mode="always_last", **HIDDEN)
    p.refresh.click(refreshed_models, None, p.model, api_visibility="private")
    ctx.run_finished.change(offer_run_model, [ctx.run_finished, p.model], p.model, **HIDDEN)
    inputs = [p.model, p.kind, p.repo, p.private, a.token]
    p.push.click(bind(on_push, h, False), inputs, [p.result, p.overwrite], api_visibility="private")
    p.overwrite.click(bind(on_push, h, True), inputs, [p.result, p.overwrite], api_visibility="private")


def wire_search(h: Hub) -> None:
    m, d, token = h.models, h.datasets, h.account.token
    gr.on([m.search.click, m.query.submit], bind(on_search_models, h), [m.query, m.sort, m.license, m.size, token],
          [m.table, m.found, m.status], api_visibility="private")
    gr.on([d.search.click, d.query.submit], bind(on_search_datasets, h), [d.query, d.sort, token],
          [d.table, d.found, d.status], api_visibility="private")
    for s in (m, d):
        s.table.select(pick, s.found, s.pick, **HIDDEN)
    m.download.click(bind(on_download_model, h), [m.pick, token], [m.status, m.cached], api_visibility="private")
    d.download.click(on_download_dataset, [d.pick, token], d.status, api_visibility="private")


def build(ctx) -> Hub:
    """Lay out the tab's panels, wire their events, and publish the API actions."""
    if ctx.options.shared_without_login:
        gr.Markdown(f"⚠️ **Warning.** {SHARE_WARNING}", elem_classes="mf-warning")
    storage = gr.Markdown(storage_markdown(), elem_id="mf-hub-storage")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            account, push = account_panel(), push_panel()
        with gr.Column(scale=6, min_width=380):
            models, datasets = model_search_panel(), dataset_search_panel()
    with gr.Accordion("Run ModelForge on a Hugging Face Space", open=False):
        gr.Markdown(SPACE_HELP)
    h = Hub(storage, account, push, models, datasets)
    wire_push(ctx, h)
    wire_search(h)
    ctx.demo.load(bind(on_open, h, ctx.demo), None, [h.storage, h.push.model, h.models.cached], **HIDDEN)
    publish_api()
    return h


# ---- API ---------------------------------------------------------------------------------------

def whoami_api(token: str = "") -> dict:
    """The account behind a Hugging Face token (empty: HUGGINGFACE_TOKEN or HF_TOKEN from the server's
    environment): name, organizations, token role.

    Args:
        token: a Hugging Face token; empty: the server's own
    """
    return hub.whoami(token)


def push_api(model_id: str, repo_id: str, kind: str = "adapter", private: bool = True, overwrite: bool = False,
             token: str = "") -> dict:
    """Push a fine-tuned model (model_id: its id or name in the run store) to repo_id (namespace/name), as
    'adapter' or 'merged', private by default, with a model card and loss curve. When the repository exists,
    answers status 'needs_confirmation' unless overwrite is true. Returns status, url, files.

    Args:
        model_id: the fine-tuned model's id or name (see /models)
        repo_id: the repository to push to, namespace/name
        kind: adapter (the LoRA adapter alone) or merged (merged into its base model)
        private: whether a new repository is private
        overwrite: replace the files of a repository that exists
        token: a Hugging Face token with write access; empty: the server's own
    """
    return hub.push_model(model_id, repo_id, kind=kind, private=private, overwrite=overwrite, token=token)


def search_models_api(query: str = "", sort: str = "downloads", license: str = "", max_params_b: float = 0,
                      limit: int = 20, token: str = "") -> list[dict]:
    """Search text-generation models on the Hub: query, sort (downloads|likes|trending_score|last_modified),
    licence, max size in billions of parameters, limit. Returns id, size, licence, downloads, likes.

    Args:
        query: words of the model's name
        sort: downloads, likes, trending_score or last_modified
        license: a licence id such as apache-2.0; empty: any
        max_params_b: the largest size, in billions of parameters; 0: any
        limit: how many models at most
        token: a Hugging Face token (for gated or private models); empty: the server's own
    """
    return hub.search_models(query, sort=sort, license=license or None, max_params_b=max_params_b or None,
                             limit=limit, token=token)


def search_datasets_api(query: str = "", sort: str = "downloads", limit: int = 20, token: str = "") -> list[dict]:
    """Search datasets on the Hub: query, sort, limit. Returns id, size, licence, downloads, likes.

    Args:
        query: words of the dataset's name
        sort: downloads, likes, trending_score or last_modified
        limit: how many datasets at most
        token: a Hugging Face token; empty: the server's own
    """
    return hub.search_datasets(query, sort=sort, limit=limit, token=token)


def download_model_api(repo_id: str, token: str = "") -> dict:
    """Download a Hub model (org/name) into the server's Hugging Face cache, where the Finetune tab finds it.
    Returns its local path.

    Args:
        repo_id: the model's Hub id, org/name
        token: a Hugging Face token (for gated or private models); empty: the server's own
    """
    return hub.download_model(repo_id, token=token)


def download_dataset_api(repo_id: str, token: str = "") -> dict:
    """Download and prepare a Hub dataset (org/name) so that runs can train on it offline.

    Args:
        repo_id: the dataset's Hub id, org/name
        token: a Hugging Face token (for gated or private datasets); empty: the server's own
    """
    return hub.download_dataset(repo_id, token=token)


def cached_models_api() -> list[dict]:
    """Models in the server's Hugging Face cache that can be fine-tuned."""
    return [{**r, "modified": float(r["modified"])} for r in hub.cached_models()]


def publish_api() -> None:
    """The tab's API actions (errors with any token scrubbed from them)."""
    for fn in (whoami_api, push_api, search_models_api, search_datasets_api, download_model_api,
               download_dataset_api, cached_models_api):
        endpoint(fn, where=WHERE, clean=hub.scrub)


__all__ = ["SHARE_WARNING", "Hub", "build", "card_view", "on_check", "on_model", "on_push", "share_banner",
           "storage_markdown"]
