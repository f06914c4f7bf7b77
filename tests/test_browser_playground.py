"""The Models and Playground tabs in a real browser: train a model on the Finetune tab, find it on
the Models tab, open it in the Playground, watch its answer stream beside the base model's, stop
an answer, merge the model and download the zip.

Reuses the browser and app fixtures of test_browser; skipped without chromium or playwright.
"""

from __future__ import annotations

import re
import zipfile

import test_browser as tb
from test_browser import open_in_playground, wait_text
from ui_server import wait_idle

pytestmark = tb.pytestmark
app_url = tb.app_url
browser = tb.browser

RUN_NAME = "playground-run"
RECORD_LENGTHS = """(sel) => { window.__lens = window.__lens || {}; const lens = window.__lens[sel] = [];
    const tick = () => { const el = document.querySelector(sel); lens.push(el ? el.innerText.length : -1); };
    window.__timers = (window.__timers || []).concat([setInterval(tick, 25)]); }"""


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def train_on_the_page(page) -> None:
    model = page.locator("#mf-model input")
    model.click()
    model.fill("tiny-llama")
    model.press("Enter")
    for label, value in (("Max steps", "12"), ("Batch size", "2"), ("Sequence length", "128"),
                         ("Learning rate", "0.005"), ("Run name", RUN_NAME)):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")
    wait_text(page, "#mf-data-status", "300 rows", timeout=30_000)  # filled by an event after the page loads
    page.wait_for_function("!document.querySelector('#mf-start').disabled", timeout=30_000)
    assert page.locator("#mf-start").inner_text().strip() == "Start training"
    page.click("#mf-start")
    # while it trains, Start says that another run would queue behind it; then it is Start again
    wait_text(page, "#mf-start", "Queue after the current run", timeout=60_000)
    wait_text(page, "#mf-status", "Completed", timeout=300_000)
    wait_text(page, "#mf-start", "Start training", timeout=30_000)
    # the live loss plot draws the eval loss too, a series that appears after the first train points
    wait_text(page, "#mf-loss-plot", "eval loss", timeout=30_000)


def set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def test_train_chat_compare_stop_merge_and_download(app_url, browser, tmp_path):
    wait_idle()
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    train_on_the_page(page)

    # the pickers of the Playground, the Hub tab and the Evaluate section start on the new model
    page.get_by_role("tab", name="Playground").click()
    page.wait_for_function(f"(document.querySelector('#mf-pg-model input')?.value || '').includes({RUN_NAME!r})",
                           timeout=30_000)
    page.get_by_role("tab", name="Hub").click()
    page.wait_for_function(f"(document.querySelector('#mf-hub-model input')?.value || '').includes({RUN_NAME!r})",
                           timeout=30_000)
    page.get_by_role("tab", name="Models").click()
    page.wait_for_function(f"(document.querySelector('#mf-eval-model input')?.value || '').includes({RUN_NAME!r})",
                           timeout=30_000)

    # the Models tab lists the new model (refreshed when the run finished); select it
    page.get_by_role("tab", name="Models").click()
    wait_text(page, "#mf-models", RUN_NAME)
    page.locator("#mf-models").get_by_text(RUN_NAME, exact=True).last.click()
    wait_text(page, "#mf-model-header", "LoRA adapter")
    assert "tiny-llama" in text_of(page, "#mf-model-header")
    page.wait_for_function("document.querySelector('#mf-model-loss')?.innerText.includes('train loss')",
                           timeout=30_000)

    # Open in Playground: the tab switches and the model is preselected
    open_in_playground(page)
    wait_text(page, "#mf-pg-info", RUN_NAME)

    # chat with Compare on: both answers stream in, side by side
    page.locator("#mf-pg-compare input").check()
    page.locator("#mf-pg-base-chat").wait_for(state="visible", timeout=10_000)  # absent from the page while hidden
    page.get_by_role("button", name=re.compile("^Generation settings")).click()
    set_number(page, "mf-pg-max-new", "200")
    # a fine-tuned model starts greedy (as in its evaluation); sampled, the tiny model answers at length
    assert page.locator("#mf-pg-temperature input[type=number]").input_value() == "0"
    set_number(page, "mf-pg-temperature", "0.7")
    page.evaluate(RECORD_LENGTHS, "#mf-pg-chat")
    page.evaluate(RECORD_LENGTHS, "#mf-pg-base-chat")
    page.locator("#mf-pg-input textarea").fill("Where is the treasure buried?")
    page.click("#mf-pg-send")
    wait_text(page, "#mf-pg-status", "Done", timeout=120_000)
    lens = page.evaluate("window.__lens")
    page.evaluate("(window.__timers || []).forEach(clearInterval)")
    for sel in ("#mf-pg-chat", "#mf-pg-base-chat"):
        growing = sorted({n for n in lens[sel] if n > 0})
        assert len(growing) >= 3, (sel, growing[:20])  # the answer appeared piece by piece
    assert "Where is the treasure buried?" in text_of(page, "#mf-pg-chat")
    assert page.locator("#mf-pg-chat [data-testid=bot]").count() == 1
    assert page.locator("#mf-pg-base-chat [data-testid=bot]").count() == 1
    status = text_of(page, "#mf-pg-status")
    assert re.search(r"fine-tuned: \d+ tokens · base: \d+ tokens", status), status  # each count names its model
    wait_text(page, "#mf-pg-info", "Loaded on")  # an event chained after the answer says where it loaded

    # Stop ends a long answer at once (the longest the slider allows: on a busy machine the page may
    # show the answer, and send the Stop, seconds behind the server)
    page.locator("#mf-pg-compare input").uncheck()
    longest = int(page.locator("#mf-pg-max-new input[type=range]").get_attribute("max"))
    set_number(page, "mf-pg-max-new", str(longest))
    page.locator("#mf-pg-input textarea").fill("Tell me a long story.")
    page.click("#mf-pg-send")
    wait_text(page, "#mf-pg-status", "Answering")
    page.wait_for_timeout(300)
    page.locator("#mf-pg-stop").dispatch_event("click")
    try:
        wait_text(page, "#mf-pg-status", "Stopped", timeout=60_000)  # slow only on a busy machine: the count is the check
    except Exception as e:
        raise AssertionError(f"Stop did not end the answer; the status says: {text_of(page, '#mf-pg-status')!r}") from e
    tokens = int(re.search(r"Stopped\. fine-tuned: (\d+) tokens", text_of(page, "#mf-pg-status"))[1])
    assert tokens < longest
    assert page.locator("#mf-pg-chat [data-testid=user]").count() == 2  # the conversation goes on
    assert page.locator("#mf-pg-chat [data-testid=bot]").count() == 2

    # the chat's own trash icon clears the conversation the model is given, not only the display
    page.locator("#mf-pg-chat button[aria-label='Clear']").click()
    page.wait_for_function("document.querySelectorAll('#mf-pg-chat [data-testid=user]').length === 0",
                           timeout=10_000)
    # the chat empties its display before the server hears of it; the server's clear empties the status
    page.wait_for_function("(document.querySelector('#mf-pg-status')?.innerText || '').trim() === ''",
                           timeout=10_000)
    set_number(page, "mf-pg-max-new", "8")
    # as in chat apps: Shift+Enter adds a line, Enter sends
    box = page.locator("#mf-pg-input textarea")
    box.fill("Ahoy!")
    box.press("Shift+Enter")
    box.type("Matey")
    assert box.input_value() == "Ahoy!\nMatey"
    box.press("Enter")
    wait_text(page, "#mf-pg-status", "Done", timeout=60_000)
    assert page.locator("#mf-pg-chat [data-testid=user]").count() == 1
    assert "Matey" in page.locator("#mf-pg-chat [data-testid=user]").inner_text()
    assert box.input_value() == ""
    assert "Tell me a long story." not in text_of(page, "#mf-pg-chat")

    # merge on the Models tab, then download the merged model as a .zip
    page.get_by_role("tab", name="Models").click()
    page.click("#mf-model-merge")
    wait_text(page, "#mf-model-action", "Merged", timeout=120_000)
    wait_text(page, "#mf-models", f"{RUN_NAME} (merged)")
    page.locator("#mf-models").get_by_text(f"{RUN_NAME} (merged)", exact=True).last.click()
    wait_text(page, "#mf-model-header", "merged model")
    page.click("#mf-model-export")
    wait_text(page, "#mf-model-action", "Ready to download", timeout=120_000)
    with page.expect_download() as dl:
        page.locator("#mf-model-download a").first.click()
    saved = tmp_path / dl.value.suggested_filename
    dl.value.save_as(saved)
    assert saved.suffix == ".zip"
    with zipfile.ZipFile(saved) as z:
        assert {"model.safetensors", "tokenizer.json", "chat_template.jinja"} <= set(z.namelist())

    # delete the merged model, after confirming
    page.click("#mf-model-delete")
    wait_text(page, "#mf-model-confirm", "cannot be undone")
    page.click("#mf-model-confirm-yes")
    page.wait_for_function("([s, n]) => !(document.querySelector(s)?.innerText || '').includes(n)",
                           arg=["#mf-models", f"{RUN_NAME} (merged)"], timeout=30_000)
    assert RUN_NAME in text_of(page, "#mf-models")  # the adapter stays
    assert not errors, errors
    page.close()
