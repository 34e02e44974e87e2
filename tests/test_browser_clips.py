"""Moving pictures in the page, end to end in headless Chromium: upload a clip, train, move the time
slider; the panels change and the exact count follows t (it equals the server's exact count of the
slice at that t). Both renderers: server frames, and the page's own WebGL2 renderer folding t into
the first bias. Fixtures and helpers: tests/test_browser.py; harness: tests/browser.py."""

from __future__ import annotations

import httpx
import pytest
from browser import canvas_stats, text_of, wait_canvas_change, wait_number
from test_browser import QUERY, browser, by, expect, open_app, server  # noqa: F401 (fixtures)
from test_clips import animated

pytestmark = pytest.mark.browser

SMALL = f"{QUERY}&layers=8x3&ntrain=2000&nval=200"


def exact_count(page) -> int:
    page.wait_for_function("() => /^\\d[\\d,]*$/.test(document.querySelector('[data-testid=exact-count]').textContent.trim())")
    return int(text_of(page, "exact-count").replace(",", ""))


def move_time(page, t: float) -> None:
    by(page, "time-slider").fill(str(t))
    expect(by(page, "time-readout")).to_have_attribute("data-t", str(t) if t % 1 else str(int(t)))


@pytest.mark.parametrize("render", ["server", "client"])
def test_upload_a_clip_train_and_move_through_time(open_app, server, tmp_path, render):
    page = open_app(f"{SMALL}&render={render}")
    expect(by(page, "clip-bar")).to_be_hidden()  # the ring is a picture: no time
    path = tmp_path / "bar.gif"
    path.write_bytes(animated("GIF", 6, size=(96, 64)))
    target_before = canvas_stats(page, "panel-target")
    by(page, "upload-input").set_input_files(str(path))
    expect(by(page, "clip-bar")).to_be_visible()
    expect(by(page, "time-readout")).to_contain_text("of 6")
    wait_canvas_change(page, "panel-target", target_before)

    by(page, "step-n-input").fill("200")
    by(page, "step-button").click()
    wait_number(page, "step-counter", "==", 200)

    shown = {}
    for t in (-1, 1):
        before = canvas_stats(page, "panel-prediction")
        target = canvas_stats(page, "panel-target")
        move_time(page, t)
        if t == 1:
            wait_canvas_change(page, "panel-prediction", before)
            wait_canvas_change(page, "panel-target", target)
        page.wait_for_timeout(400)  # the view message, the frame and its inline exact count
        shown[t] = (exact_count(page), canvas_stats(page, "panel-prediction"))
    assert shown[-1][1] != shown[1][1]

    # the count on screen is the exact count of the slice at the slider's t
    base = server_base(page, server)
    for t in (-1, 1):
        move_time(page, t)
        page.wait_for_timeout(400)
        counts = httpx.get(f"{base}/layer-counts", params={"t": t}, timeout=30).json()
        wait_number(page, "exact-count", "==", counts["counts"][-1])

    # the chart over t: the exact count of the slice at 17 moments, those the server computes
    page.wait_for_function("() => document.querySelector('[data-testid=time-chart-note]').dataset.step === '200'")
    shown_counts = by(page, "time-chart-note").get_attribute("data-counts")
    over_t = httpx.get(f"{base}/counts-over-t", params={"n": 17}, timeout=30).json()
    assert shown_counts == ",".join(str(c) for c in over_t["counts"])
    expect(by(page, "time-chart")).to_be_visible()

    # play runs t forward by itself
    by(page, "time-play").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=time-readout]').dataset.t) > -0.9")
    by(page, "time-play").click()
    expect(by(page, "time-play")).to_have_attribute("data-playing", "false")


def server_base(page, server) -> str:
    """The session's REST base, from the checkpoint link the page keeps up to date."""
    href = by(page, "download-checkpoint").get_attribute("href")
    token = href.split("/api/sessions/")[1].split("/")[0]
    return f"{server.url}/api/sessions/{token}"
