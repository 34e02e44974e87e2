"""The page as a new user meets it (issue 12): the keyboard, errors, a diverging run,
downloads, small words; the one-screen and phone layouts; the network diagram.

Headless Chromium against a real ``polytope-lens serve`` (harness: tests/browser.py),
one server and one browser for the module, a fresh context per test. Skipped only when
there is no Chromium and CI is unset.
"""

from __future__ import annotations

import os
import re

import pytest
from browser import PageLog, ServeProcess, blur, chromium_path, launch_chromium, text_of, wait_number, wait_ready

pytestmark = pytest.mark.browser

if chromium_path() is None and not os.environ.get("CI"):
    pytest.skip("no Chromium at /usr/bin/chromium; browser tests run whenever CI is set", allow_module_level=True)
if os.environ.get("CI"):
    from playwright.sync_api import expect, sync_playwright
else:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
    expect, sync_playwright = sync_api.expect, sync_api.sync_playwright

QUERY = "res=128"
WAIT = 20_000
expect.set_options(timeout=WAIT)


@pytest.fixture(scope="module")
def server():
    with ServeProcess() as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_app(browser, server):
    """``open_app(query, viewport) -> page``: the app connected and configured; its log checked at the end."""
    opened = []

    def open_(query: str = QUERY, viewport=(1400, 1000), **context_args):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **context_args)
        context.set_default_timeout(WAIT)
        page = context.new_page()
        page.log = PageLog().attach(page)
        opened.append((context, page))
        page.goto(f"{server.url}/?{query}")
        wait_ready(page)
        return page

    yield open_
    problems = []
    for context, page in opened:
        problems += page.log.errors()
        context.close()
    assert not problems, f"the page reported errors: {problems}\n--- server log ---\n{server.log()}"


def by(page, testid: str):
    return page.get_by_test_id(testid)


def expect_state(page, state: str) -> None:
    expect(by(page, "run-state")).to_have_attribute("data-state", state)


# -- rough edge 2: space ---------------------------------------------------------------------
def test_space_toggles_training_after_clicking_a_picture_or_a_checkbox(open_app):
    page = open_app()
    by(page, "sample-disk").click()  # the thumbnail keeps the focus
    expect(by(page, "sample-disk")).to_have_attribute("aria-pressed", "true")
    expect_state(page, "paused")
    page.keyboard.press("Space")
    expect_state(page, "running")
    wait_number(page, "step-counter", ">", 0)
    toggle = by(page, "fill-regions-toggle")
    toggle.click()
    expect(toggle).to_be_checked()
    page.keyboard.press("Space")  # stops training; does not untick the box
    expect_state(page, "paused")
    page.wait_for_timeout(200)
    expect(toggle).to_be_checked()
    # A text field still takes the key.
    by(page, "layers-input").focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    expect_state(page, "paused")


# -- rough edge 3: errors ----------------------------------------------------------------------
def test_errors_do_not_pile_up_and_a_refused_field_says_why_beside_it(open_app):
    page = open_app()
    by(page, "upload-input").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"words, not pixels\n" * 20}]
    )
    entries = page.locator('[data-testid="error-entry"]')
    expect(entries).to_have_count(1)
    upload_words = entries.first.text_content()
    assert re.search(r"upload", upload_words, re.I), upload_words
    # A value past the bounds the page knows: the bounds in words beside the field.
    by(page, "train-points-input").fill("2000000")
    own = by(page, "field-error-train_points")
    expect(own).to_be_visible()
    expect(own).to_contain_text("1,048,576")
    # A value only the server refuses (train + validation past the picture's pixels): its sentence beside the field.
    by(page, "train-points-input").fill("1048000")
    blur(page)
    note = by(page, "field-error-val_points")
    expect(note).to_be_visible()
    words = note.text_content()
    assert re.search(r"exceeds", words, re.I) and len(re.findall(r"[A-Za-z]{3,}", words)) >= 3, words
    # The newest message stands on its own, above the older one; nothing is prefixed to it.
    expect(entries).to_have_count(2)
    newest = entries.first.locator(".error-text").text_content()
    assert "upload" not in newest.lower(), newest
    assert newest.strip() == words.strip()
    # Each is dismissed on its own.
    entries.nth(1).get_by_test_id("error-dismiss").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(words.strip())
    # A good value clears the field's note and the message.
    by(page, "train-points-input").fill("4000")
    blur(page)
    expect(note).to_have_count(0)
    expect(by(page, "error-banner")).to_be_hidden()


# -- rough edge 4: divergence -------------------------------------------------------------------
def test_an_exploding_loss_is_said_before_it_becomes_nan(open_app):
    page = open_app(f"{QUERY}&lr=5&layers=8x2")
    by(page, "step-n-input").fill("60")
    by(page, "step-button").click()
    warning = page.locator('[data-testid="error-entry"][data-source="exploding"]')
    expect(warning).to_be_visible()
    text = warning.text_content()
    assert re.search(r"explod", text, re.I) and re.search(r"learning rate", text, re.I), text
    assert "0.5" in text, f"a smaller rate is suggested: {text!r}"
    # A new network starts a sane run: the warning goes.
    by(page, "lr-input").fill("0.001")
    by(page, "seed-input").fill("7")
    blur(page)
    expect(warning).to_have_count(0)


# -- rough edge 7: small things ------------------------------------------------------------------
def test_small_words_are_right(open_app, server):
    page = open_app()
    cut = page.evaluate(
        """() => [...document.querySelectorAll('.thumb-name')]
             .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1 || e.getBoundingClientRect().bottom > e.parentElement.getBoundingClientRect().bottom + 1)
             .map((e) => e.textContent)"""
    )
    assert cut == [], f"picture names cut off: {cut}"
    assert page.locator(".thumb-name", has_text="Checkerboard").count() == 1
    by(page, "layers-input").fill("1")
    expect(by(page, "param-count")).to_have_text("1 hidden layer, 1 neuron, 5 parameters")
    by(page, "layers-input").fill("0")
    expect(by(page, "param-count")).not_to_contain_text("1 parameters")
    expect(by(page, "param-count")).to_contain_text("at least one neuron")
    assert f"http://127.0.0.1:{server.port}/" in server.log(tail=10**7), server.log()


# -- rough edge 1: the exact count when paused -----------------------------------------------------
def test_paused_count_is_exact_even_past_the_live_budget(open_app):
    # 64x4 at initialisation: ~1 s for its exact partition here, more than the live budget (0.3 s).
    page = open_app(f"{QUERY}&layers=64x4")
    exact = by(page, "exact-count")
    expect(exact).to_have_attribute("data-status", "exact", timeout=60_000)
    expect(exact).to_have_attribute("data-step", "0")
    first = int(text_of(page, "exact-count").replace(",", ""))
    assert first > 1000
    by(page, "step-n-input").fill("5")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 5)
    expect(exact).to_have_attribute("data-step", "5", timeout=60_000)
    expect(exact).to_have_attribute("data-status", "exact")


def test_a_layer_count_of_an_earlier_step_says_so(open_app):
    page = open_app()
    by(page, "start-button").click()
    status = by(page, "layer-status")
    expect(status).to_have_attribute("data-stale", "true")
    expect(status).to_contain_text(re.compile(r"counted at step \d+; the network is now at step \d+"))
    by(page, "pause-button").click()
    expect_state(page, "paused")
    expect(status).to_have_attribute("data-stale", "false")
