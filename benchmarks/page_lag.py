"""How far behind the server a client-drawn page is (the frame window: routers/live.py FrameWindow).

Headless Chromium (tests/browser.py; WebGL2 is SwiftShader here, so the page draws slower than the
server trains, as a weak laptop or phone would) against a real `polytope-lens serve`, the default
14x6 on the ring at ?render=client&res=128, with BUSY processes spinning beside it. Train runs for
8 s, then Pause is pressed: the page's Step readout at the click and where it settles after are
read. The jump between them is how many steps the page was behind. Alternately with the page as
served (it acknowledges frames, ?acks=1) and with its acknowledgements turned off (the server then
sends as fast as the socket's buffers take), A B A B ...; medians per kind.

    PYTHONPATH=backend python benchmarks/page_lag.py [ROUNDS] [BUSY]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import ServeProcess, launch_chromium, wait_ready  # noqa: E402

from polytope_lens.assets import FRONTEND_DIR  # noqa: E402


def settled(page) -> int:
    """The Step readout once it has not moved for a second."""
    last, since = None, time.monotonic()
    while time.monotonic() - since < 1.0:
        now = int(page.get_by_test_id("step-counter").text_content())
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.05)
    return last


def lag(browser, url: str, acks: bool) -> tuple[int, int]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        if not acks:  # the same page, its socket opened without ?acks=1
            source = (FRONTEND_DIR / "live" / "connection.js").read_text().replace("acks=1", "acks=0")
            page.route("**/static/live/connection.js",
                       lambda route: route.fulfill(status=200, body=source, content_type="text/javascript"))
        page.goto(url)
        wait_ready(page, timeout=60_000)
        page.get_by_test_id("start-button").click()
        time.sleep(8)
        shown = int(page.get_by_test_id("step-counter").text_content())
        page.get_by_test_id("pause-button").click()
        return shown, settled(page)
    finally:
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    busy = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    jumps = {"acks": [], "no acks": []}
    try:
        with ServeProcess() as server, sync_playwright() as p:
            browser = launch_chromium(p)
            url = f"{server.url}/?res=128&render=client"
            for _ in range(rounds):
                for kind in jumps:
                    shown, final = lag(browser, url, kind == "acks")
                    jumps[kind].append(final - shown)
                    print(f"{kind:8s}: step {shown} on screen at Pause, settled at {final}: {final - shown} behind",
                          flush=True)
            browser.close()
    finally:
        for spinner in spinners:
            spinner.kill()
    a, n = statistics.median(jumps["acks"]), statistics.median(jumps["no acks"])
    print(f"median steps behind at Pause: {a:.0f} with acks, {n:.0f} without ({n / max(a, 1):.1f}x)")


if __name__ == "__main__":
    main()
