"""The Finetune tab in a real browser: start a run, watch it, reload, still watching it.

Needs Debian's /usr/bin/chromium and the playwright package (scripts/setup.sh --test installs
both); skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from ui_server import running_app, wait_idle

CHROMIUM = os.environ.get("MODELFORGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() or shutil.which("chromium")), reason="chromium is not installed"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def app_url(tiny_model):
    with running_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        yield b
        b.close()


def progress_step(page) -> int:
    text = page.locator("#mf-progress").inner_text()
    m = re.search(r"Step (\d+) /", text)
    return int(m.group(1)) if m else -1


def wait_for_step_above(page, step: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        """(n) => { const m = /Step (\\d+) \\//.exec(document.querySelector('#mf-progress')?.innerText || '');
                   return m && parseInt(m[1]) > n; }""", arg=step, timeout=timeout)


def wait_text(page, selector: str, needle: str, timeout: float = 60_000) -> None:
    page.wait_for_function("([s, n]) => (document.querySelector(s)?.innerText || '').includes(n)",
                           arg=[selector, needle], timeout=timeout)


def open_in_playground(page) -> None:
    """Click Open in Playground on the Models tab and wait for the Playground's tab to show (its
    picker may already name the model, so its text says nothing of the switch)."""
    page.click("#mf-model-open")
    page.locator("#mf-pg-chat").wait_for(state="visible", timeout=30_000)


def test_start_watch_reload_and_stop(app_url, browser, tmp_path):
    wait_idle()
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    # the hardware panel is filled once the page has loaded
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)

    # the tiny model from the models folder, short sequences, a run long enough to reload during it
    model = page.locator("#mf-model input")
    model.click()
    model.fill("tiny-llama")
    model.press("Enter")
    for label, value in (("Max steps", "400"), ("Batch size", "2"), ("Sequence length", "128"),
                         ("Learning rate", "0.005")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")
    page.get_by_label("Run name", exact=True).fill("browser-run")
    page.get_by_label("Run name", exact=True).press("Tab")
    wait_text(page, "#mf-data-status", "300 rows", timeout=30_000)  # filled by an event after the page loads
    page.wait_for_function("!document.querySelector('#mf-start').disabled", timeout=30_000)

    # optional numbers shown on the page stay empty (the run's defaults), and Start still works
    page.get_by_text("Evaluation, logging and checkpoints").click()
    for label in ("Max samples", "Eval every N steps", "Checkpoint every N steps", "Score every N-th evaluation"):
        assert page.get_by_role("textbox", name=re.compile("^" + label)).input_value() == "", label

    # a provider this machine cannot run (Unsloth is not installed here) blocks Start and says why
    provider = page.locator("#mf-provider input")
    # (the note at load already names the install command: the first wait is for the refusal's own words)
    for choice, note in (("unsloth", "The unsloth provider cannot run this here"),
                         ("auto", "auto will use huggingface")):
        provider.click()
        provider.fill(choice)
        provider.press("Enter")
        page.wait_for_function(f"document.querySelector('#mf-provider-note')?.innerText.includes({note!r})",
                               timeout=30_000)
        page.wait_for_function(("" if choice == "auto" else "!") + "!document.querySelector('#mf-start').disabled",
                               timeout=30_000)
    page.dblclick("#mf-start")  # a double click starts one run

    # live: status, progress, loss plot
    page.wait_for_function("document.querySelector('#mf-status')?.innerText.includes('Training')", timeout=60_000)
    assert "browser-run" in page.locator("#mf-status").inner_text()
    wait_for_step_above(page, 2)
    first = progress_step(page)
    wait_for_step_above(page, first)  # the progress keeps moving
    text = page.locator("#mf-progress").inner_text()
    assert re.search(r"Step \d+ / 400 · epoch [\d.]+ · ETA [\d:]+ · [\d,]+ tokens/s", text), text
    page.wait_for_function("document.querySelector('#mf-loss-plot')?.innerText.includes('train loss')",
                           timeout=30_000)  # the legend appears once the plot has data
    assert page.locator("#mf-loss-plot canvas, #mf-loss-plot svg").count() > 0
    assert "Model loaded" in page.locator("#mf-log").inner_text()

    # reload: the page re-attaches to the same live run and keeps streaming it
    before = progress_step(page)
    page.reload()
    page.wait_for_function("document.querySelector('#mf-status')?.innerText.includes('browser-run')",
                           timeout=30_000)
    assert "Training" in page.locator("#mf-status").inner_text()
    # the form shows the live run's settings, not the defaults
    page.wait_for_function("(document.querySelector('#mf-model input')?.value || '').includes('tiny-llama')",
                           timeout=30_000)
    assert page.get_by_label("Max steps", exact=True).input_value() == "400"
    assert page.get_by_label("Run name", exact=True).input_value() == "browser-run"
    wait_for_step_above(page, before)
    after = progress_step(page)
    wait_for_step_above(page, after)
    page.wait_for_function("document.querySelector('#mf-loss-plot')?.innerText.includes('train loss')",
                           timeout=30_000)

    # a second browser sees the same run
    other = browser.new_context().new_page()
    other.goto(app_url)
    other.wait_for_function("document.querySelector('#mf-status')?.innerText.includes('browser-run')",
                            timeout=30_000)
    shot = os.environ.get("MODELFORGE_SCREENSHOT")
    if shot:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=shot)

    page.click("#mf-stop")
    page.wait_for_function("document.querySelector('#mf-status')?.innerText.includes('Stopped')", timeout=60_000)
    other.wait_for_function("document.querySelector('#mf-status')?.innerText.includes('Stopped')", timeout=60_000)
    assert progress_step(page) < 400
    # the store records the run as stopped, and the history, refreshed, lists it so (it listed the
    # run since it was queued, so its name alone says nothing)
    from forge.runs import get_store

    def recorded() -> list[str]:
        return [r["status"] for r in get_store().list_runs() if r.get("name") == "browser-run"]

    deadline = time.monotonic() + 10  # the run logs its end, then records it
    while recorded() != ["stopped"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert recorded() == ["stopped"]
    page.click("#mf-history-refresh")
    try:
        page.wait_for_function("[...document.querySelectorAll('#mf-history .virtual-row')]"
                               ".some(r => r.innerText.includes('browser-run') && r.innerText.includes('stopped'))",
                               timeout=30_000)
    except Exception as e:
        raise AssertionError(f"the history shows {page.locator('#mf-history').inner_text()!r}") from e
    assert not errors, errors
    other.close()
    page.close()


def test_strategy_settings_left_empty_mean_the_trainers_defaults(app_url, browser):
    """DPO's settings appear empty and stay out of the config until typed in; a bad number is named."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    page.get_by_text("Config file and command line").click()
    strategy = page.locator("#mf-strategy input")
    strategy.click()
    strategy.fill("DPO")
    strategy.press("Enter")
    beta = page.get_by_role("textbox", name=re.compile("^beta"))
    beta.wait_for(timeout=30_000)
    assert beta.input_value() == ""
    page.wait_for_function("document.querySelector('#mf-config-yaml')?.innerText.includes('strategy: dpo')",
                           timeout=30_000)
    yaml_text = page.locator("#mf-config-yaml").inner_text()
    assert re.search(r"^beta: null$", yaml_text, re.M) and re.search(r"^max_samples: null$", yaml_text, re.M)
    beta.fill("0.25")
    beta.press("Tab")
    page.wait_for_function("document.querySelector('#mf-config-yaml')?.innerText.includes('beta: 0.25')",
                           timeout=30_000)
    beta.fill("strong")
    beta.press("Tab")
    page.wait_for_function("document.querySelector('.mf-error textarea')?.value"
                           ".includes('beta: Input should be a valid number')", timeout=30_000)
    page.close()


def test_bad_settings_are_named_in_view_and_keep_start_off(app_url, browser):
    """A fraction in a whole-number field, an empty or out-of-range number: the message names the
    field by its label, Start stays off, and fixing the field turns Start back on."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    page.wait_for_function("!document.querySelector('#mf-start').disabled", timeout=60_000)
    error = "document.querySelector('#mf-config-error textarea')?.value || ''"
    for label, bad, message in (("Batch size", "2.7", "Batch size (per_device_train_batch_size): Input should be "
                                 "a valid integer, got a number with a fractional part"),
                                ("LoRA rank", "0.4", "LoRA rank (lora_r): Input should be a valid integer"),
                                ("Learning rate", "-1", "Learning rate (learning_rate): Input should be greater "
                                 "than 0"),
                                ("Sequence length", "", "Sequence length (max_seq_length): empty. Type a number.")):
        box = page.get_by_label(label, exact=True)
        good = box.input_value()
        box.fill(bad)
        box.press("Tab")
        page.wait_for_function(f"({error}).includes({message!r}) && document.querySelector('#mf-start').disabled",
                               timeout=30_000)
        box.fill(good)
        box.press("Tab")
        page.wait_for_function(f"!({error}) && !document.querySelector('#mf-start').disabled", timeout=30_000)
    page.close()
