"""How hard a streamed Playground answer works the browser, and how fast Stop answers meanwhile.

    .venv/bin/python bench/page_stream.py [--tokens 1000] [--load 2]

The app runs in this process on a temporary home with the tiny random Llama as a fine-tuned model;
headless Chromium uses the page as a person does (picks the model on the Models tab, opens it in the
Playground), then asks for a long answer and presses Stop after a few seconds. Measured for the page
as it was (every event reporting progress on all its outputs, the chat redrawn 10 times a second:
the baseline) and as it is now, each on a fresh page:

- main-thread work of the page per second of answer (Chrome's TaskDuration), and
- the delay from pressing Stop to the page saying "Stopped".

``--load N`` keeps N busy processes running meanwhile, as on a machine that also trains.
Needs chromium and playwright (scripts/setup.sh --test installs both).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODELFORGE_HOME", tempfile.mkdtemp(prefix="forge-bench-page-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHROMIUM = os.environ.get("MODELFORGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MODEL = "bench-page-model"


def busy() -> None:
    while True:
        pass


def add_model() -> None:
    from forge.runs import get_store
    from forge.settings import get_settings
    from forge.tiny import build_tiny_model

    path = str(build_tiny_model(get_settings().models_dir / "tiny-llama"))
    get_store().add_model({"name": MODEL, "path": path, "kind": "full", "base_model": path,
                           "task": "text-generation", "files_ok": True})


@contextlib.contextmanager
def app(baseline: bool):
    import forge.ui as ui
    from forge.ui import playground

    narrow, every = ui.narrow_progress, playground.UPDATE_EVERY
    if baseline:
        ui.narrow_progress, playground.UPDATE_EVERY = (lambda demo, quiet: None), 0.1
    try:
        demo = ui.build_app()
        demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, **ui.launch_kwargs())
        yield demo.local_url
        demo.close()
    finally:
        ui.narrow_progress, playground.UPDATE_EVERY = narrow, every


def wait_text(page, selector: str, needle: str, timeout: float = 120_000) -> None:
    page.wait_for_function("([s, n]) => (document.querySelector(s)?.innerText || '').includes(n)",
                           arg=[selector, needle], timeout=timeout)


def set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def open_in_playground(page, url: str, tokens: int) -> None:
    page.goto(url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    page.get_by_role("tab", name="Models").click()
    wait_text(page, "#mf-models", MODEL)
    page.locator("#mf-models").get_by_text(MODEL, exact=True).last.click()
    wait_text(page, "#mf-model-header", "full model")
    page.click("#mf-model-open")
    page.locator("#mf-pg-chat").wait_for(state="visible", timeout=60_000)  # the picker may name it already
    wait_text(page, "#mf-pg-info", MODEL)
    page.get_by_role("button", name="Generation settings").click()
    for _ in range(5):  # the model's own settings may still arrive: set until they hold
        set_number(page, "mf-pg-max-new", str(tokens))
        set_number(page, "mf-pg-temperature", "0.7")
        page.wait_for_timeout(500)
        if page.locator("#mf-pg-max-new input[type=number]").input_value() == str(tokens):
            break


def task_ms(cdp) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"] * 1000


def answer(page, cdp, stop_after: float | None) -> tuple[float, float, float | None]:
    """(seconds answering, main-thread ms, seconds from Stop to "Stopped" or None)."""
    page.locator("#mf-pg-input textarea").fill("Tell me a long story.")
    before, t0 = task_ms(cdp), time.time()
    page.click("#mf-pg-send")
    wait_text(page, "#mf-pg-status", "Answering")
    stopped = None
    if stop_after is not None:
        page.wait_for_timeout(stop_after * 1000)
        pressed = time.time()
        page.locator("#mf-pg-stop").dispatch_event("click")
        wait_text(page, "#mf-pg-status", "Stopped")
        stopped = time.time() - pressed
    else:
        wait_text(page, "#mf-pg-status", "Done")
    spent = time.time() - t0
    work = task_ms(cdp) - before
    page.click("#mf-pg-clear")
    page.wait_for_timeout(1000)
    return spent, work, stopped


def measure(browser, baseline: bool, tokens: int, stop_after: float) -> dict:
    with app(baseline) as url:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        open_in_playground(page, url, tokens)
        spent, work, _ = answer(page, cdp, None)
        _, _, stop = answer(page, cdp, stop_after)
        page.close()
    return {"ms_per_s": work / spent, "seconds": spent, "stop": stop}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=1000, help="answer length (the tiny model: ~50 a second)")
    ap.add_argument("--stop-after", type=float, default=4.0, help="seconds of answer before pressing Stop")
    ap.add_argument("--load", type=int, default=0, help="busy processes running meanwhile")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    add_model()
    load = [multiprocessing.Process(target=busy, daemon=True) for _ in range(args.load)]
    for p in load:
        p.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            before = measure(browser, True, args.tokens, args.stop_after)
            now = measure(browser, False, args.tokens, args.stop_after)
            browser.close()
    finally:
        for p in load:
            p.terminate()
    print(f"a {args.tokens}-token answer in the Playground, {args.load} busy processes meanwhile")
    for name, r in (("baseline (all outputs, 10 redraws/s)", before), ("now (few targets, 5 redraws/s)", now)):
        print(f"  {name:38s} page main thread {r['ms_per_s']:5.0f} ms per second of answer "
              f"({r['seconds']:.1f} s) · Stop to 'Stopped' {r['stop']:.2f} s")
    print(f"  ratio baseline/now: main-thread work {before['ms_per_s'] / now['ms_per_s']:.1f}x · "
          f"Stop delay {before['stop'] / max(now['stop'], 1e-3):.1f}x")


if __name__ == "__main__":
    main()
