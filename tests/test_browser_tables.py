"""Every table is readable, on a wide screen and a small laptop's: read in the browser at
1400×1000 and 1024×768. A table of up to six columns fits its box (each header and first cell
inside it and wider than a few characters); a wider one scrolls sideways, with every column still
wider than a few characters. The Finetune tab's problems, preview, history and storage tables, the
Models tab's list, task metrics and before/after answers.

Reuses the browser and app fixtures of test_browser; skipped without chromium or playwright.
"""

from __future__ import annotations

import json

import test_browser as tb
from test_browser import wait_text

pytestmark = tb.pytestmark
app_url = tb.app_url
browser = tb.browser

MIN_WIDTH = 48  # pixels: about six characters
MEASURE = """(sel) => { const root = document.querySelector(sel); if (!root) return null;
  const wrap = root.querySelector('.table-wrap') || root; const box = wrap.getBoundingClientRect();
  const cell = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left - box.left, right: r.right - box.right, width: r.width, text: el.innerText.trim()}; };
  const row = [...root.querySelectorAll('.virtual-row[role=row]')].find(r => r.offsetHeight > 0 && r.innerText.trim());
  return {th: [...root.querySelectorAll('thead th')].filter(th => th.offsetHeight > 0).map(cell),
          td: row ? [...row.querySelectorAll('[role=gridcell]')].map(cell) : []}; }"""

LONG = {"input": "Explain, as a seasoned pirate captain to new crew, why the ship must be kept shipshape at "
                 "all times and what happens to those who leave ropes uncoiled " * 2,
        "output": "Arr, listen well: a tidy ship be a safe ship, and every rope coiled be a life saved when the "
                  "storm comes over the bow " * 2}


PLAIN_BUTTONS = """() => [...document.querySelectorAll('button.primary, button.secondary, button.stop')]
  .filter(b => b.offsetParent !== null).filter(b => { const s = getComputedStyle(b);
    return parseFloat(s.borderTopWidth) < 1 && ['rgba(0, 0, 0, 0)', 'transparent'].includes(s.backgroundColor); })
  .map(b => b.innerText.trim())"""


def unreadable(page, selector: str) -> list[str]:
    """What is wrong with the table at ``selector`` (nothing: an empty list)."""
    m = page.evaluate(MEASURE, selector)
    if m is None:
        return [f"{selector}: not on the page"]
    if not m["td"]:
        return [f"{selector}: no rows shown"]
    wide = len(m["th"]) > 6
    problems = []
    for kind in ("th", "td"):
        for i, c in enumerate(m[kind]):
            if c["width"] < MIN_WIDTH:
                problems.append(f"{selector} {kind}[{i}] {c['text'][:20]!r} is {c['width']:.0f}px wide")
            if not wide and (c["left"] < -1 or c["right"] > 1):
                problems.append(f"{selector} {kind}[{i}] {c['text'][:20]!r} lies outside the box "
                                f"({c['left']:.0f}, {c['right']:.0f})")
    return problems


SIZES = [(1400, 1000), (1024, 768)]


def test_every_table_fits_its_box(app_url, browser, trained_adapter, tmp_path):
    from forge.settings import get_settings
    from test_models_playground import copy_model

    # newest first in their lists (a long list shows only its first rows: the rest are drawn on scrolling)
    model = copy_model(trained_adapter, "tables-model")
    (get_settings().datasets_dir / "kept.jsonl").write_text(json.dumps(LONG) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(LONG) + "\n{broken json " + "x" * 200 + "\n" + json.dumps({"input": "no answer"}) + "\n")
    good = tmp_path / "long.jsonl"
    good.write_text("\n".join(json.dumps(LONG) for _ in range(20)) + "\n")

    size = SIZES[0]
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    problems: list[str] = []

    def check(selector: str) -> None:
        """Read the table at every screen size (the page reflows; its content stays)."""
        for w, h in SIZES:
            page.set_viewport_size({"width": w, "height": h})
            page.wait_for_timeout(300)
            problems.extend(f"{w}x{h} {p}" for p in unreadable(page, selector))
        page.set_viewport_size({"width": size[0], "height": size[1]})

    # Finetune: a refused upload's problems, then a long-rowed file's preview, the history, storage
    page.locator("#mf-source").get_by_text("Upload").click()
    page.locator("#mf-upload input[type=file]").set_input_files(str(bad))
    wait_text(page, "#mf-problems", "invalid JSON")
    check("#mf-problems")
    page.locator("#mf-upload button[aria-label='Clear']").first.click()
    page.locator("#mf-upload input[type=file]").set_input_files(str(good))
    wait_text(page, "#mf-data-status", "20 rows")
    page.get_by_text("Preview: the first rows").click()
    wait_text(page, "#mf-preview", "shipshape")
    check("#mf-preview")
    page.wait_for_function("document.querySelectorAll('#mf-history .virtual-row').length > 0", timeout=30_000)
    check("#mf-history")
    page.get_by_text("Storage: uploaded datasets and download archives").click()
    wait_text(page, "#mf-storage", "kept.jsonl")
    check("#mf-storage")

    # Models: the list, the selected model's task metrics and before/after answers
    page.get_by_role("tab", name="Models").click()
    wait_text(page, "#mf-models", model["name"])
    check("#mf-models")
    page.locator("#mf-models").get_by_text(model["name"], exact=True).last.click()
    wait_text(page, "#mf-model-before-after", "Fine-tuned")
    page.wait_for_function("document.querySelectorAll('#mf-model-before-after .virtual-row').length > 0",
                           timeout=30_000)
    check("#mf-model-eval-metrics")
    check("#mf-model-before-after")
    # every button looks like one (a tab's contents appear once it is first opened: wait for one of them)
    for tab, shown in (("Finetune", "#mf-start"), ("Models", "#mf-models"), ("Playground", "#mf-pg-send"),
                       ("Hub", "#mf-hub-model")):
        page.get_by_role("tab", name=tab).click()
        page.locator(shown).wait_for(state="visible", timeout=30_000)
        problems += [f"{tab}: button {t!r} has neither a border nor a background"
                     for t in page.evaluate(PLAIN_BUTTONS)]
    page.close()
    assert not problems, "\n".join(problems)
