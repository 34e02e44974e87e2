"""How often the real page's Step readout moves while a ready experiment trains (issue 28, item 7).

Headless Chromium (tests/browser.py) against a real `polytope-lens serve`: the page at 1440x900,
`?render=server` (or client), the experiment picked from the menu, Train pressed; the Step readout
is polled every 50 ms for 12 s and each change printed with its time after the click; the last
line is the changes per second over the last 8 s (the first 4 are the start). Polling from
Python under load misses some changes, so this is a floor of the updates the page showed.
Adapted from the lead's script.

    PYTHONPATH=backend python benchmarks/browser_live.py [PRESET] [server|client]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import PageLog, ServeProcess, launch_chromium, wait_ready  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    preset = sys.argv[1] if len(sys.argv) > 1 else "lazy"
    render = sys.argv[2] if len(sys.argv) > 2 else "server"
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with ServeProcess() as server, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        log = PageLog().attach(page)
        page.goto(f"{server.url}/?render={render}")
        wait_ready(page, timeout=120_000)
        page.get_by_test_id("experiment-select").select_option(preset)
        page.wait_for_function("() => document.querySelector('[data-testid=run-state]').dataset.state === 'paused'",
                               timeout=120_000)
        time.sleep(1)
        t0 = time.monotonic()
        page.get_by_test_id("start-button").click()
        last, seen = None, []
        while time.monotonic() - t0 < 12:
            step = page.evaluate("() => document.querySelector('[data-testid=step-counter]').textContent")
            if step != last:
                seen.append((round(time.monotonic() - t0, 2), step))
                last = step
            time.sleep(0.05)
        for at, step in seen:
            print(f"{at:6.2f} s  step {step}")
        print(f"changes/s over the last 8 s: {sum(1 for at, _ in seen if at > 4) / 8:.2f}; "
              f"load average after: {os.getloadavg()[0]:.2f}; page errors: {log.errors()}")
        browser.close()


if __name__ == "__main__":
    main()
