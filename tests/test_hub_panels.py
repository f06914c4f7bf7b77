"""The Hub tab's handlers called directly, without a server or a browser: each returns
``{component: value}`` for the panels it fills. The Hub is offline here: the engine's own
answers (offline, bad names) are real; a push, a search and a download that would reach the
Hub are stood in for at forge.hub's functions (tests/test_hub.py drives those against a fake
Hub client)."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from forge import hub
from forge.errors import HubError, ModelNotFoundError
from forge.runs import get_store
from forge.ui import hub as tab

FAKE_TOKEN = "hf_AbCdEf1234567890XyZqwerty"  # shaped like a real one, so that it is scrubbed
CARD = "---\nlicense: apache-2.0\nlibrary_name: peft\n---\n# Pirate\n\n![Loss curve](loss_curve.png)\n"


@pytest.fixture
def h() -> tab.Hub:
    with gr.Blocks():
        return tab.Hub(gr.Markdown(), tab.account_panel(), tab.push_panel(), tab.model_search_panel(),
                       tab.dataset_search_panel())


@pytest.fixture
def adapter(tmp_path, monkeypatch):
    """A LoRA adapter's record (its card stood in for: cards are tests/test_hub.py's)."""
    folder = tmp_path / "adapter"
    folder.mkdir()
    rec = get_store().add_model({"name": "Pirate Bot", "path": str(folder), "kind": "adapter",
                                 "base_model": "org/base", "run_id": "run-hub-panel"})

    def card_preview(model_id, repo_id, kind):
        if model_id != rec["id"]:
            raise ModelNotFoundError(f"There is no model '{model_id}'.", "Pick one.")
        return CARD.replace("Pirate", f"{repo_id} {kind}")

    monkeypatch.setattr(hub, "card_preview", card_preview)
    yield rec
    get_store().delete_model(rec["id"])


def test_check_says_whose_token_and_suggests_a_name(h, adapter, monkeypatch):
    monkeypatch.setattr(hub, "whoami", lambda token: {"name": "alice", "role": "write", "orgs": ["acme"],
                                                      "token_source": "field"})
    out = tab.on_check(h, FAKE_TOKEN, "", adapter["id"])
    assert out[h.account.name] == "alice" and "Signed in as **alice** (write access" in out[h.account.info]
    assert "organizations: acme" in out[h.account.info]
    assert out[h.push.repo] == "alice/Pirate-Bot"
    assert h.push.repo not in tab.on_check(h, FAKE_TOKEN, "alice/mine", adapter["id"])  # a name given stays


def test_check_offline_says_so_without_the_token(h):
    out = tab.on_check(h, FAKE_TOKEN, "", None)
    assert out[h.account.info].startswith("❌") and "HF_HUB_OFFLINE" in out[h.account.info]
    assert FAKE_TOKEN not in out[h.account.info] and out[h.account.name] == "" and h.push.repo not in out


def test_picking_a_model_fills_what_to_push_the_name_and_the_card(h, adapter):
    p = h.push
    out = tab.on_model(h, adapter["id"], "", "alice", None)
    assert out[p.kind]["value"] == "adapter" and out[p.kind]["choices"] == tab.KIND_CHOICES
    assert out[p.repo] == "alice/Pirate-Bot" and out[p.overwrite]["visible"] is False
    assert out[p.card].startswith("Metadata (the card's header):\n\n```yaml\nlicense: apache-2.0")
    assert "alice/Pirate-Bot adapter" in out[p.card] and "`loss_curve.png`, pushed with the card" in out[p.card]
    kept = tab.on_model(h, adapter["id"], "bob/kept", "alice", "merged")
    assert p.repo not in kept and "bob/kept merged" in kept[p.card]
    assert tab.on_model(h, None, "", "", None) == {p.card: tab.NO_CARD, p.overwrite: gr.update(visible=False)}
    gone = tab.on_model(h, "no-such-model", "", "", None)
    assert p.kind not in gone and gone[p.card].startswith("❌")


def test_a_full_model_is_pushed_whole(h, adapter):
    get_store().update_model(adapter["id"], kind="full")
    out = tab.on_model(h, adapter["id"], "your-name/old", None, "adapter")
    assert out[h.push.kind]["choices"] == tab.WHOLE_MODEL_CHOICES and out[h.push.kind]["value"] == "merged"
    assert out[h.push.kind]["interactive"] is False  # not a choice for a whole model
    # the choices keep their values, so an event still carrying the adapter's choice is read, not refused
    assert [v for _, v in tab.WHOLE_MODEL_CHOICES] == [v for _, v in tab.KIND_CHOICES]
    assert out[h.push.repo] == "your-name/Pirate-Bot" and "your-name/Pirate-Bot merged" in out[h.push.card]


def test_renaming_the_repository_checks_it_and_follows_on_the_card(h, adapter):
    out = tab.on_push_settings(h, adapter["id"], "alice/my model", "adapter")
    assert out[h.push.repo_check].startswith("⚠️") and "alice/my model adapter" in out[h.push.card]
    out = tab.on_push_settings(h, None, "alice/fine", "merged")
    assert out[h.push.repo_check] == "✅ `alice/fine` is a valid name." and out[h.push.card] == tab.NO_CARD


def test_push_asks_before_overwriting(h, adapter, monkeypatch):
    calls, seen = [], []

    def push_model(model_id, repo_id, *, kind, private, overwrite, token, progress):
        calls.append((model_id, repo_id, kind, private, overwrite, token))
        progress(1.7, "done")
        if not overwrite:
            return {"status": "needs_confirmation", "repo_id": repo_id, "url": f"https://hub.example/{repo_id}"}
        return {"status": "pushed", "url": f"https://hub.example/{repo_id}", "private": True,
                "files": ["README.md", "adapter_model.safetensors"]}

    monkeypatch.setattr(hub, "push_model", push_model)
    progress = lambda fraction, desc: seen.append(fraction)  # noqa: E731
    p = h.push
    out = tab.on_push(h, False, adapter["id"], "adapter", "alice/pirate", 1, FAKE_TOKEN, progress)
    assert "already exists" in out[p.result] and out[p.overwrite]["visible"] is True
    out = tab.on_push(h, True, adapter["id"], "adapter", "alice/pirate", 1, FAKE_TOKEN, progress)
    assert out[p.result].startswith("✅ Pushed (private): [https://hub.example/alice/pirate]")
    assert "`adapter_model.safetensors`" in out[p.result] and out[p.overwrite]["visible"] is False
    assert [c[4] for c in calls] == [False, True] and calls[0][3] is True and seen == [1.0, 1.0]
    assert tab.on_push(h, False, None, "adapter", "", True, "")[p.result] == "Pick a model to push."


def test_an_unexpected_error_is_shown_without_the_token(h, adapter, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError(f"upload failed with {FAKE_TOKEN}")

    monkeypatch.setattr(hub, "push_model", boom)
    out = tab.on_push(h, False, adapter["id"], "adapter", "alice/pirate", True, FAKE_TOKEN, lambda *a, **k: None)
    assert out[h.push.result].startswith("❌ Something went wrong") and FAKE_TOKEN not in out[h.push.result]


def test_search_fills_the_table_and_a_click_picks_a_row(h, monkeypatch):
    rows = [{"id": "Qwen/Qwen2.5-0.5B-Instruct", "size": "494M", "license": None, "downloads": 5, "likes": 3,
             "updated": "2025-01-01"}, {"id": "org/other", "size": None, "license": "mit", "downloads": 1,
                                        "likes": 0, "updated": ""}]
    monkeypatch.setattr(hub, "search_models", lambda query, **k: rows)
    m = h.models
    out = tab.on_search_models(h, "qwen", "downloads", "", 0, "")
    assert out[m.found] == rows and out[m.status] == "2 models."
    assert out[m.table].values.tolist()[0] == ["Qwen/Qwen2.5-0.5B-Instruct", "494M", "?", 5, 3, "2025-01-01"]
    assert list(out[m.table].columns) == tab.MODEL_COLUMNS
    assert tab.pick(rows, SimpleNamespace(index=[1, 0])) == "org/other"
    assert isinstance(tab.pick([], SimpleNamespace(index=[0, 0])), type(gr.skip()))
    monkeypatch.setattr(hub, "search_models", lambda query, **k: [])
    assert "No models match" in tab.on_search_models(h, "zzz", "likes", "mit", 1, "")[m.status]


def test_search_offline_says_so_and_keeps_the_table(h):
    for out, s in ((tab.on_search_models(h, "smol", "downloads", "", 0, ""), h.models),
                   (tab.on_search_datasets(h, "alpaca", "downloads", ""), h.datasets)):
        assert s.table not in out and out[s.found] == [] and "HF_HUB_OFFLINE" in out[s.status]


def test_downloads_report_and_refresh_the_cache_line(h, monkeypatch):
    monkeypatch.setattr(hub, "download_model", lambda repo_id, token, progress: {"message": f"{repo_id} is ready",
                                                                                 "size": "3 MB"})
    monkeypatch.setattr(hub, "cached_models", lambda: [{"repo_id": "org/m", "size": "3 MB"}])
    out = tab.on_download_model(h, "org/m", "", lambda *a, **k: None)
    assert out == {h.models.status: "✅ org/m is ready (3 MB)", h.models.cached: "**In the local cache** (pick them "
                   "on the Finetune tab): `org/m` (3 MB)"}
    monkeypatch.setattr(hub, "download_dataset", lambda repo_id, token, progress: (_ for _ in ()).throw(
        HubError("No dataset 'org/d' on the Hub.")))
    assert tab.on_download_dataset("org/d", "", lambda *a, **k: None) == "❌ No dataset &#x27;org/d&#x27; on the Hub."


def test_opening_the_page_says_where_models_are_and_picks_the_newest(h, adapter, home):
    out = tab.on_open(h, SimpleNamespace(share_url="https://abc.gradio.live"))
    assert out[h.storage].startswith("Public link of this studio: https://abc.gradio.live")
    assert f"kept in `{home}`" in out[h.storage] and "Offline mode is on" in out[h.storage]
    assert out[h.push.model]["value"] == adapter["id"]
    assert tab.offer_run_model("run-hub-panel", None)["value"] == adapter["id"]
    assert tab.offer_run_model("no-such-run", "kept")["value"] == "kept"


def test_the_api_scrubs_tokens_from_unexpected_errors(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError(f"refused {FAKE_TOKEN}")

    monkeypatch.setattr(hub, "whoami", boom)
    with gr.Blocks() as demo:
        tab.publish_api()
    whoami = next(f.fn for f in demo.fns.values() if f.api_name == "whoami")
    with pytest.raises(gr.Error) as e:
        whoami(FAKE_TOKEN)
    assert FAKE_TOKEN not in e.value.message and "hf_***" in e.value.message
