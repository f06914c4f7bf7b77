"""Runs compared side by side: two finished runs of the tiny model (two learning rates), their
curves overlaid one colour per run, their final metrics and the settings that differ; through
the engine, gradio_client's /compare_runs, and the Finetune tab in Chromium."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import test_browser as tb
from forge.history import compare_runs
from test_browser_playground import wait_text

app_url = tb.app_url
browser = tb.browser


@pytest.fixture(scope="module")
def two_runs(tiny_model):
    from forge.training import get_queue

    q = get_queue()
    recs = []
    for name, lr in (("slow-lr", 1e-4), ("fast-lr", 5e-3)):
        recs.append(q.wait(q.submit(dict(model_name=str(tiny_model), dataset="sample:pirate_persona", max_steps=6,
                                         per_device_train_batch_size=2, max_seq_length=128, learning_rate=lr,
                                         max_samples=40, eval_split=0.1, eval_samples=0, logging_steps=1,
                                         run_name=name))["id"], timeout=600))
    assert all(r["status"] == "completed" for r in recs), [r.get("error") for r in recs]
    return recs


def test_compare_two_runs_through_the_engine_and_the_api(two_runs, app_url):
    from forge.errors import ForgeError

    ids = [r["id"] for r in two_runs]
    c = compare_runs(ids)
    assert c["names"] == ["slow-lr", "fast-lr"]
    for key in ("loss", "learning_rate"):
        assert {p["run"] for p in c["curves"][key]} == {"slow-lr", "fast-lr"}
        assert {p["step"] for p in c["curves"][key] if p["run"] == "slow-lr"} >= {1, 6}
    assert c["settings"]["learning_rate"] == {"slow-lr": 1e-4, "fast-lr": 5e-3}
    assert "run_name" in c["settings"] and "max_steps" not in c["settings"]  # only what differs
    assert set(c["metrics"]["loss"]) == {"slow-lr", "fast-lr"}
    with pytest.raises(ForgeError, match="at least two runs"):
        compare_runs(ids[:1])

    client = Client(app_url, verbose=False)
    api = client.predict(" ".join(ids), api_name="/compare_runs")
    assert api["names"] == c["names"] and api["settings"]["learning_rate"] == c["settings"]["learning_rate"]
    with pytest.raises(AppError, match="There is no run 'nope'"):
        client.predict([ids[0], "nope"], api_name="/compare_runs")


@pytest.mark.browser
@tb.pytestmark[1]  # skipped without chromium
def test_compare_two_runs_on_the_page(two_runs, app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#mf-hardware')?.innerText.includes('Device')", timeout=60_000)
    page.get_by_text("Compare runs", exact=True).click()
    pick = page.locator("#mf-compare-pick input")
    for r in two_runs:
        pick.click()
        page.get_by_role("option").filter(has_text=r["id"]).first.click()
    page.click("#mf-compare-btn")
    wait_text(page, "#mf-compare-status", "2 runs compared")
    for plot in ("#mf-compare-loss", "#mf-compare-lr"):  # one series, and one legend entry, per run
        wait_text(page, plot, "slow-lr")
        wait_text(page, plot, "fast-lr")
    wait_text(page, "#mf-compare-settings", "learning_rate")
    wait_text(page, "#mf-compare-metrics", "loss")
    page.close()
