"""Hub tab: check a token, push a fine-tuned model with its card, search and download base models
and datasets, and see where this studio keeps its models (on a Space too).

Every action is also an API endpoint: ``/whoami``, ``/push``, ``/search_models``,
``/search_datasets``, ``/download_model``, ``/download_dataset``, ``/cached_models``. The work
is done by :mod:`forge.hub`; this module lays out widgets and wires events.
"""

from __future__ import annotations

import html
import logging
import re

import gradio as gr

from .. import hub
from .widgets import friendly_error

log = logging.getLogger(__name__)

SHARE_WARNING = ("This studio was started with --share and no login: anyone with its public link can train on "
                 "this machine and use its Hugging Face token. Restart it with --auth user:password (or "
                 "MODELFORGE_AUTH) to require one.")
MODEL_COLUMNS = ["Model", "Size", "Licence", "Downloads", "Likes", "Updated"]
DATASET_COLUMNS = ["Dataset", "Size", "Licence", "Downloads", "Likes", "Updated"]
COLUMN_WIDTHS = ["34%", "10%", "14%", "14%", "10%", "18%"]
KIND_CHOICES = [("Adapter only: small, loads on top of its base", "adapter"),
                ("Merged into its base: a standalone model", "merged")]
API = {
    "whoami": "The account behind a Hugging Face token (empty: HUGGINGFACE_TOKEN or HF_TOKEN from the server's "
              "environment): name, organizations, token role.",
    "push": "Push a fine-tuned model (model_id: its id or name in the run store) to repo_id (namespace/name), as "
            "'adapter' or 'merged', private by default, with a model card and loss curve. When the repository "
            "exists, answers status 'needs_confirmation' unless overwrite is true. Returns status, url, files.",
    "search_models": "Search text-generation models on the Hub: query, sort (downloads|likes|trending_score|"
                     "last_modified), licence, max size in billions of parameters, limit. Returns id, size, licence, "
                     "downloads, likes.",
    "search_datasets": "Search datasets on the Hub: query, sort, limit. Returns id, size, licence, downloads, likes.",
    "download_model": "Download a Hub model (org/name) into the server's Hugging Face cache, where the Finetune tab "
                      "finds it. Returns its local path.",
    "download_dataset": "Download and prepare a Hub dataset (org/name) so that runs can train on it offline.",
    "cached_models": "Models in the server's Hugging Face cache that can be fine-tuned.",
}


def share_banner(options) -> None:
    """The share warning at the top of the page, when the studio is shared without a login
    (``options``: the app's :class:`~forge.serving.auth.AppOptions`)."""
    if options.shared_without_login:
        gr.Markdown(f"⚠️ **Warning.** {SHARE_WARNING}", elem_id="mf-share-warning", elem_classes="mf-warning")


def _friendly(e: BaseException) -> str:
    return friendly_error(e, "the Hub tab", lambda text: hub._scrub(text, None))


def _fail(e: BaseException) -> str:
    return "❌ " + html.escape(_friendly(e)).replace("\n", "  \n")


def _api_error(e: BaseException) -> gr.Error:
    return gr.Error(_friendly(e), print_exception=False)


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


def storage_markdown(share_url: str | None = None) -> str:
    s = hub.storage_info()
    lines = [f"Public link of this studio: {share_url}"] if share_url else []
    if s["on_space"]:
        if s["persistent"]:
            lines.append(f"Running on the Space **{s['space_id']}**. Runs, models and datasets are kept in "
                         f"`{s['home']}`, on the Space's persistent storage: they survive restarts.")
        else:
            lines.append(f"Running on the Space **{s['space_id']}** without persistent storage: runs and models "
                         f"in `{s['home']}` are lost when the Space restarts. Enable persistent storage in the "
                         f"Space's settings (ModelForge then uses `/data/modelforge`), or push models to the Hub.")
        if hub.token_source(None):
            lines.append("This Space has a Hub token in its environment: anyone who can open the Space can push "
                         "with it. Keep the Space private, or remove the secret and paste a token per visit.")
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


def _model_table(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([[r["id"], r["size"] or "?", r["license"] or "?", r["downloads"], r["likes"], r["updated"]]
                         for r in rows], columns=MODEL_COLUMNS)


def _dataset_table(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame([[r["id"], r["size"] or "?", r["license"] or "?", r["downloads"], r["likes"], r["updated"]]
                         for r in rows], columns=DATASET_COLUMNS)


SPACE_HELP = """Turn this studio into a Hugging Face Space (a GPU Space: settings in `spaces_config.yaml`):

```bash
python -m forge space build space/        # a ready-to-push folder: README.md, app.py, forge/, requirements.txt
HF_TOKEN=hf_... python -m forge space deploy your-name/modelforge   # create or update the Space and upload
```

Or share this machine for a while: `python app.py --share --auth user:password`."""


# ---- the tab ----------------------------------------------------------------------------------

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


def build(ctx) -> None:  # noqa: C901 — page builder, split into panels in the redesign
    if ctx.options.shared_without_login:
        gr.Markdown(f"⚠️ **Warning.** {SHARE_WARNING}", elem_classes="mf-warning")
    storage_md = gr.Markdown(storage_markdown(), elem_id="mf-hub-storage")
    account = gr.State("")

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            # ---- token -----------------------------------------------------------------------
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### Hugging Face account")
                with gr.Row():
                    token = gr.Textbox(label="Token", type="password", placeholder="hf_...", scale=4,
                                       info="Kept in this page only: never saved on the server.",
                                       elem_id="mf-hub-token")
                    check_btn = gr.Button("Check", scale=1, elem_id="mf-hub-check")
                account_md = gr.Markdown(token_hint(), elem_id="mf-hub-account")

            # ---- push ------------------------------------------------------------------------
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### Publish a fine-tuned model")
                with gr.Row():
                    model_dd = gr.Dropdown(model_choices(), value=None, label="Model", scale=4,
                                           elem_id="mf-hub-model")
                    refresh_btn = gr.Button("↻", scale=0, min_width=40)
                kind = gr.Radio(KIND_CHOICES, value="adapter", label="What to push", elem_id="mf-hub-kind")
                repo = gr.Textbox(label="Repository", placeholder="your-name/my-model", elem_id="mf-hub-repo")
                repo_md = gr.Markdown(repo_markdown(""), elem_id="mf-hub-repo-check")
                private = gr.Checkbox(True, label="Private repository", elem_id="mf-hub-private",
                                      info="Only you (and your organization) can see it. Change it later on the Hub.")
                with gr.Row():
                    push_btn = gr.Button("Push to the Hub", variant="primary", elem_id="mf-hub-push")
                    overwrite_btn = gr.Button("Overwrite it", variant="stop", visible=False,
                                              elem_id="mf-hub-overwrite")
                push_md = gr.Markdown("", elem_id="mf-hub-push-result")
                with gr.Accordion("Model card preview", open=False):
                    card_md = gr.Markdown("Pick a model to see its card.", elem_id="mf-hub-card")

        with gr.Column(scale=6, min_width=380):
            # ---- models ----------------------------------------------------------------------
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### Find a base model")
                with gr.Row():
                    m_query = gr.Textbox(label="Search", placeholder="SmolLM2, Qwen2.5 0.5B, llama...", scale=3)
                    m_sort = gr.Radio([("Downloads", "downloads"), ("Likes", "likes")], value="downloads",
                                      label="Sort by", scale=2)
                with gr.Row():
                    m_license = gr.Dropdown([("Any", "")] + [(x, x) for x in hub.LICENSES], value="", label="Licence",
                                            allow_custom_value=True)
                    m_size = gr.Number(0, label="At most (billions of parameters)", minimum=0,
                                       info="0: any size")
                    m_search = gr.Button("Search", elem_id="mf-hub-search-models")
                m_table = gr.Dataframe(headers=MODEL_COLUMNS, interactive=False, wrap=True, max_height=320,
                                       column_widths=COLUMN_WIDTHS,
                                       elem_id="mf-hub-models")
                with gr.Row():
                    m_pick = gr.Textbox(label="Model to download", placeholder="org/name (click a row)", scale=4)
                    m_download = gr.Button("Download", scale=1, elem_id="mf-hub-download-model")
                m_status = gr.Markdown("")
                cached_md = gr.Markdown(cached_markdown(), elem_id="mf-hub-cached")

            # ---- datasets --------------------------------------------------------------------
            with gr.Group(elem_classes="mf-section"):
                gr.Markdown("### Find a dataset")
                with gr.Row():
                    d_query = gr.Textbox(label="Search", placeholder="alpaca, dolly, ultrachat...", scale=3)
                    d_sort = gr.Radio([("Downloads", "downloads"), ("Likes", "likes")], value="downloads",
                                      label="Sort by", scale=2)
                    d_search = gr.Button("Search", scale=1, elem_id="mf-hub-search-datasets")
                d_table = gr.Dataframe(headers=DATASET_COLUMNS, interactive=False, wrap=True, max_height=320,
                                       column_widths=COLUMN_WIDTHS,
                                       elem_id="mf-hub-datasets")
                with gr.Row():
                    d_pick = gr.Textbox(label="Dataset to download", placeholder="org/name (click a row)", scale=4)
                    d_download = gr.Button("Download", scale=1, elem_id="mf-hub-download-dataset")
                d_status = gr.Markdown("")

    with gr.Accordion("Run ModelForge on a Hugging Face Space", open=False):
        gr.Markdown(SPACE_HELP)

    # ---- handlers: account -------------------------------------------------------------------
    def on_check(tok, current_repo, model_id):
        text, name = account_markdown(tok)
        suggestion = gr.skip()
        if name and model_id and not (current_repo or "").strip():
            suggestion = hub.suggest_repo_id(model_id, name)
        return text, name, suggestion

    check_btn.click(on_check, [token, repo, model_dd], [account_md, account, repo], api_visibility="private")
    token.submit(on_check, [token, repo, model_dd], [account_md, account, repo], api_visibility="private")

    # ---- handlers: push ----------------------------------------------------------------------
    def on_model(model_id, current_repo, name, current_kind):
        if not model_id:
            return gr.skip(), gr.skip(), "Pick a model to see its card.", gr.update(visible=False)
        try:
            rec = next((m for m in hub.pushable_models() if m["id"] == model_id), None)
            is_adapter = (rec or {}).get("kind") == "adapter"
            kind_update = (gr.update(choices=KIND_CHOICES, value=current_kind or "adapter") if is_adapter else
                           gr.update(choices=[("The whole model (fully fine-tuned or merged)", "merged")],
                                     value="merged"))
            suggestion = gr.skip()
            if not (current_repo or "").strip() or current_repo.strip().startswith("your-name/"):
                suggestion = hub.suggest_repo_id(model_id, name or None)
            what = (current_kind or "adapter") if is_adapter else "merged"
            repo_id = suggestion if isinstance(suggestion, str) else current_repo
            return kind_update, suggestion, card_view(model_id, repo_id, what), gr.update(visible=False)
        except Exception as e:
            return gr.skip(), gr.skip(), _fail(e), gr.update(visible=False)

    def on_push_settings(model_id, repo_id, what):
        """The repository name or what to push changed: the card follows, the overwrite question goes."""
        card = "Pick a model to see its card."
        if model_id:
            try:
                card = card_view(model_id, repo_id, what)
            except Exception as e:
                card = _fail(e)
        return repo_markdown(repo_id), card, gr.update(visible=False)

    model_dd.change(on_model, [model_dd, repo, account, kind], [kind, repo, card_md, overwrite_btn],
                    api_visibility="private", show_progress="hidden")
    gr.on([repo.change, kind.change], on_push_settings, [model_dd, repo, kind], [repo_md, card_md, overwrite_btn],
          api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    refresh_btn.click(lambda: gr.update(choices=model_choices()), None, model_dd, api_visibility="private")
    def on_new_model(run_id, current):
        """A run just saved a model: the picker offers it (what its user will want to push)."""
        choices = model_choices()
        made = [m["id"] for m in hub.pushable_models() if m.get("run_id") == run_id]
        return gr.update(choices=choices, value=made[0] if made else current or (choices[0][1] if choices else None))

    ctx.run_finished.change(on_new_model, [ctx.run_finished, model_dd], model_dd, api_visibility="private",
                            show_progress="hidden")

    def do_push(model_id, what, repo_id, is_private, tok, overwrite, progress):
        if not model_id:
            return "Pick a model to push.", gr.update(visible=False)
        try:
            r = hub.push_model(model_id, repo_id, kind=what or "adapter", private=bool(is_private),
                               overwrite=overwrite, token=tok, progress=_progress(progress))
        except Exception as e:
            return _fail(e), gr.update(visible=False)
        if r["status"] == "needs_confirmation":
            return (f"⚠️ [{r['repo_id']}]({r['url']}) already exists. Pushing replaces its files. "
                    f"Press **Overwrite it** to go on, or change the name."), gr.update(visible=True)
        visibility = {True: "private", False: "public", None: "visibility unchanged"}[r["private"]]
        return (f"✅ Pushed ({visibility}): [{r['url']}]({r['url']})  \n"
                f"Files: {', '.join(f'`{f}`' for f in r['files'])}"), gr.update(visible=False)

    def on_push(model_id, what, repo_id, is_private, tok, progress=gr.Progress()):
        return do_push(model_id, what, repo_id, is_private, tok, False, progress)

    def on_overwrite(model_id, what, repo_id, is_private, tok, progress=gr.Progress()):
        return do_push(model_id, what, repo_id, is_private, tok, True, progress)

    push_inputs = [model_dd, kind, repo, private, token]
    push_btn.click(on_push, push_inputs, [push_md, overwrite_btn], api_visibility="private")
    overwrite_btn.click(on_overwrite, push_inputs, [push_md, overwrite_btn], api_visibility="private")

    # ---- handlers: search and download -------------------------------------------------------
    found_models = gr.State([])
    found_datasets = gr.State([])

    def on_search_models(query, sort, license, size, tok):
        try:
            rows = hub.search_models(query, sort=sort, license=license or None, max_params_b=size or None, token=tok)
        except Exception as e:
            return gr.skip(), [], _fail(e)
        note = f"{len(rows)} models." if rows else "No models match: try other words or remove the filters."
        return _model_table(rows), rows, note

    m_search.click(on_search_models, [m_query, m_sort, m_license, m_size, token], [m_table, found_models, m_status],
                   api_visibility="private")
    m_query.submit(on_search_models, [m_query, m_sort, m_license, m_size, token], [m_table, found_models, m_status],
                   api_visibility="private")

    def on_search_datasets(query, sort, tok):
        try:
            rows = hub.search_datasets(query, sort=sort, token=tok)
        except Exception as e:
            return gr.skip(), [], _fail(e)
        return _dataset_table(rows), rows, f"{len(rows)} datasets." if rows else "No datasets match."

    d_search.click(on_search_datasets, [d_query, d_sort, token], [d_table, found_datasets, d_status],
                   api_visibility="private")
    d_query.submit(on_search_datasets, [d_query, d_sort, token], [d_table, found_datasets, d_status],
                   api_visibility="private")

    def pick(rows: list[dict], evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return rows[row]["id"] if rows and 0 <= row < len(rows) else gr.skip()

    m_table.select(pick, found_models, m_pick, api_visibility="private", show_progress="hidden")
    d_table.select(pick, found_datasets, d_pick, api_visibility="private", show_progress="hidden")

    def on_download_model(repo_id, tok, progress=gr.Progress()):
        try:
            r = hub.download_model(repo_id, token=tok, progress=_progress(progress))
        except Exception as e:
            return _fail(e), gr.skip()
        return f"✅ {r['message']} ({r['size']})", cached_markdown()

    m_download.click(on_download_model, [m_pick, token], [m_status, cached_md], api_visibility="private")

    def on_download_dataset(repo_id, tok, progress=gr.Progress()):
        try:
            r = hub.download_dataset(repo_id, token=tok, progress=_progress(progress))
        except Exception as e:
            return _fail(e)
        return f"✅ {r['message']}"

    d_download.click(on_download_dataset, [d_pick, token], d_status, api_visibility="private")

    def on_open():
        choices = model_choices()  # the push picker starts on the newest fine-tuned model
        return (storage_markdown(getattr(ctx.demo, "share_url", None)),
                gr.update(choices=choices, value=choices[0][1] if choices else None), cached_markdown())

    ctx.demo.load(on_open, None,
                  [storage_md, model_dd, cached_md], api_visibility="private", show_progress="hidden")

    # ---- API endpoints -----------------------------------------------------------------------
    def whoami(token: str = "") -> dict:
        try:
            return hub.whoami(token)
        except Exception as e:
            raise _api_error(e) from None

    def push(model_id: str, repo_id: str, kind: str = "adapter", private: bool = True, overwrite: bool = False,
             token: str = "") -> dict:
        try:
            return hub.push_model(model_id, repo_id, kind=kind, private=private, overwrite=overwrite, token=token)
        except Exception as e:
            raise _api_error(e) from None

    def search_models(query: str = "", sort: str = "downloads", license: str = "", max_params_b: float = 0,
                      limit: int = 20, token: str = "") -> list[dict]:
        try:
            return hub.search_models(query, sort=sort, license=license or None, max_params_b=max_params_b or None,
                                     limit=limit, token=token)
        except Exception as e:
            raise _api_error(e) from None

    def search_datasets(query: str = "", sort: str = "downloads", limit: int = 20, token: str = "") -> list[dict]:
        try:
            return hub.search_datasets(query, sort=sort, limit=limit, token=token)
        except Exception as e:
            raise _api_error(e) from None

    def download_model(repo_id: str, token: str = "") -> dict:
        try:
            return hub.download_model(repo_id, token=token)
        except Exception as e:
            raise _api_error(e) from None

    def download_dataset(repo_id: str, token: str = "") -> dict:
        try:
            return hub.download_dataset(repo_id, token=token)
        except Exception as e:
            raise _api_error(e) from None

    def cached_models() -> list[dict]:
        return [{**r, "modified": float(r["modified"])} for r in hub.cached_models()]

    for fn in (whoami, push, search_models, search_datasets, download_model, download_dataset, cached_models):
        gr.api(fn, api_name=fn.__name__, api_description=API[fn.__name__])


__all__ = ["SHARE_WARNING", "build", "share_banner"]
