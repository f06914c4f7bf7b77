"""A user's text is shown as text on every tab, and the page cleans up what a studio leaves on disk.

A run and a model named with markup (an image, bold, a link) and backticks are shown on the
Finetune tab's history and run detail, the Models tab and the Playground: no element of theirs
reaches the page, and the name reads as typed. The Finetune tab's Storage list deletes an uploaded
dataset and a download archive, saying what it freed.

Reuses the browser and app fixtures of test_browser; skipped without chromium or playwright.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import test_browser as tb
from test_browser import open_in_playground, wait_text

pytestmark = tb.pytestmark
app_url = tb.app_url
browser = tb.browser

# a model name may not hold "/" (it could take a Hub id's shape): markup without closing tags
MODEL_NAME = "<img src=x id=evil-img><b id=evil-b>bold `tick` **star**"
RUN_NAME = '<img src=x id=evil-run-img><a id=evil-a href="http://example.invalid/">link</a> `run`'


def hostile_records(trained_adapter) -> tuple[dict, dict]:
    from forge.runs import get_store
    from forge.training.events import EventLog
    from forge.training.job import run_dir
    from test_models_playground import copy_model

    store = get_store()
    run = store.create_run({"name": RUN_NAME, "status": "completed", "config": {"max_steps": 3},
                            "base_model": "tiny-llama", "strategy": "sft", "started": time.time() - 5,
                            "finished": time.time()})
    folder = run_dir(run["id"])
    log = EventLog(folder / "events.jsonl")
    log.emit("status", status="completed", message="Run completed.")
    log.emit("result", status="completed", metrics={"loss": 1.0}, output_dir=None, error=None)
    store.update_run(run["id"], run_dir=str(folder), events_path=str(folder / "events.jsonl"))
    model = copy_model(trained_adapter, "placeholder")
    store.update_model(model["id"], name=MODEL_NAME, run_id=run["id"])
    return store.get_run(run["id"]), store.get_model(model["id"])


def no_injected(page) -> None:
    for sel in ("#evil-img", "#evil-b", "#evil-run-img", "#evil-a", "img[src='x']"):
        assert page.locator(sel).count() == 0, f"{sel} reached the page"


def test_names_with_markup_read_as_typed_on_every_tab(app_url, browser, trained_adapter):
    run, model = hostile_records(trained_adapter)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)

    # Finetune: the history and the selected run's detail
    wait_text(page, "#mf-history", "link</a>")
    page.locator("#mf-history").get_by_text("`run`", exact=False).last.click()
    wait_text(page, "#mf-run-detail", "<a id=evil-a")
    no_injected(page)

    # Models: the list and the header ("Made by run ...")
    page.get_by_role("tab", name="Models").click()
    wait_text(page, "#mf-models", "<b id=evil-b>bold")
    page.locator("#mf-models").get_by_text("bold", exact=False).last.click()
    wait_text(page, "#mf-model-header", "<b id=evil-b>bold `tick` **star**")
    assert "<a id=evil-a" in page.locator("#mf-model-header").inner_text()
    no_injected(page)

    # Playground: the model's description names it as typed, with the record it resolved to
    open_in_playground(page)
    wait_text(page, "#mf-pg-info", "<b id=evil-b>bold `tick` **star**")
    assert model["id"] in page.locator("#mf-pg-info").inner_text()
    no_injected(page)
    page.close()


def test_storage_list_deletes_datasets_and_archives(app_url, browser, home, trained_adapter):
    from forge import export
    from forge.settings import get_settings
    from test_models_playground import copy_model

    data = get_settings().datasets_dir / "leftover.jsonl"
    data.write_text(json.dumps({"input": "a", "output": "b"}) + "\n" * 1, encoding="utf-8")
    zipped = export.archive(copy_model(trained_adapter, "to-archive")["id"])
    assert zipped.is_file()

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    page.get_by_text("Storage: uploaded datasets and download archives").click()
    wait_text(page, "#mf-storage", "leftover.jsonl")
    wait_text(page, "#mf-storage", "download archive")

    # each result names what it deleted: waiting for "freed" alone would pass on the first
    # deletion's message before the second one's event had come back
    for pick, gone, named in (("uploaded dataset: leftover.jsonl", data, data.name),
                              ("download archive: ", zipped, zipped.parent.name)):
        box = page.locator("#mf-storage-pick input")
        box.click()
        page.get_by_role("option").filter(has_text=pick).first.click()
        page.click("#mf-storage-delete")
        wait_text(page, "#mf-storage-result", f"Deleted {named}")
        assert not Path(gone).exists()
    assert "leftover.jsonl" not in page.locator("#mf-storage").inner_text()
    page.close()
