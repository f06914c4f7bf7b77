"""Datasets as people have them, on the page in a real browser: a ShareGPT preference file and a
tool-calling file are uploaded and each trains a few steps to completed; after each run ends its
plot, final metrics and log stay on screen (with its end status). A file with odd column names is
refused, then mapped by the column dropdowns without uploading it again: it validates, the preview
shows the rows through the model's chat template, and the mapping is in the run's config.

Reuses the browser and app fixtures of test_browser; skipped without chromium or playwright.
"""

from __future__ import annotations

from pathlib import Path

import test_browser as tb
from test_browser import wait_text
from ui_server import wait_idle

pytestmark = tb.pytestmark
app_url = tb.app_url
browser = tb.browser

FORMATS = Path(__file__).parent / "data" / "formats"


def pick(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    box.press("Enter")


def fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")


def upload(page, name: str) -> None:
    clear = page.locator("#mf-upload button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    page.locator("#mf-upload input[type=file]").set_input_files(str(FORMATS / name))


def train_and_keep(page, name: str, task: str, strategy: str, run_name: str) -> None:
    """Upload, train to completed, and check the ended run stays on screen. The first wait names
    this file's task: "8 rows" and Start may still be on from the run before."""
    upload(page, name)
    ready = f"8 rows ready · task {task}"
    wait_text(page, "#mf-data-status", ready)
    pick(page, "mf-strategy", strategy)
    fill(page, "Run name", run_name)
    try:
        page.wait_for_function("!document.querySelector('#mf-start').disabled", timeout=30_000)
    except Exception as e:
        raise AssertionError(f"{name} with {strategy} is not ready to start: the status says "
                             f"{page.locator('#mf-data-status').inner_text()!r}, Start is "
                             f"{'off' if page.locator('#mf-start').is_disabled() else 'on'}") from e
    page.click("#mf-start")
    wait_text(page, "#mf-status", run_name)
    wait_text(page, "#mf-status", "Completed", timeout=120_000)
    wait_text(page, "#mf-run-end", "Final metrics", timeout=30_000)
    page.wait_for_timeout(1500)  # the watcher has gone idle: what it showed must still be there
    status = page.locator("#mf-status").inner_text()
    assert "Completed" in status and run_name in status
    assert "train loss" in page.locator("#mf-loss-plot").inner_text()
    assert page.locator("#mf-loss-plot canvas, #mf-loss-plot svg").count() > 0
    assert "train_loss" in page.locator("#mf-run-end").inner_text()
    assert "Run completed" in page.locator("#mf-log").inner_text()


def test_formats_train_on_the_page_and_a_mapping_is_fixed_there(app_url, browser):
    wait_idle()
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    pick(page, "mf-model", "tiny-llama")
    for label, value in (("Max steps", "2"), ("Batch size", "2"), ("Sequence length", "128"), ("LoRA rank", "4")):
        fill(page, label, value)
    page.get_by_text("Evaluation, logging and checkpoints").click()
    fill(page, "Eval split", "0")
    page.locator("#mf-source").get_by_text("Upload").click()

    train_and_keep(page, "sharegpt_preference.json", "preference", "DPO", "pref-run")
    train_and_keep(page, "sharegpt_tools.json", "chat", "SFT", "tools-run")

    # a reloaded page shows the last run as it ended, until the next one starts
    page.reload()
    wait_text(page, "#mf-status", "tools-run")
    wait_text(page, "#mf-run-end", "Final metrics")
    assert "Completed" in page.locator("#mf-status").inner_text()

    # odd column names: refused, then mapped by the dropdowns (no new upload) and valid
    page.locator("#mf-source").get_by_text("Upload").click()
    upload(page, "odd_columns.jsonl")
    wait_text(page, "#mf-data-status", "cannot be used yet")
    wait_text(page, "#mf-data-status", "could not tell the task")
    page.wait_for_function("document.querySelector('#mf-start').disabled", timeout=10_000)
    page.locator("#mf-col-prompt").wait_for(state="visible", timeout=10_000)  # the mapping step opened
    for role, column in (("prompt", "Frage"), ("response", "Antwort")):
        page.locator(f"#mf-col-{role} input").click()
        page.get_by_role("option", name=column, exact=True).click()
    wait_text(page, "#mf-data-status", "8 rows")
    wait_text(page, "#mf-data-status", "Frage → prompt, Antwort → response")
    page.get_by_text("Preview: the first rows").click()
    wait_text(page, "#mf-preview", "<|im_start|>user")
    page.get_by_text("Config file and command line").click()
    wait_text(page, "#mf-config-yaml", "prompt: Frage")
    wait_text(page, "#mf-config-yaml", "response: Antwort")
    page.wait_for_function("!document.querySelector('#mf-start').disabled", timeout=30_000)
    page.close()
    assert not errors, errors
