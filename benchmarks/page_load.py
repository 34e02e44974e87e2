"""What plotly's basic bundle saves on each page load (web/routers/pages.py).

Headless Chromium (tests/browser.py) against a real `polytope-lens serve`: the page is opened in a
fresh context until it is ready (connected, first network drawn), alternately with the basic bundle
the server serves and with the plotly package's full bundle (put in its place by the browser), A B
A B ... Printed per kind: the median wall time to ready and the median main-thread script and task
time (Chromium's Performance metrics), then the ratios full / basic.

    PYTHONPATH=backend python benchmarks/page_load.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import ServeProcess, launch_chromium, wait_ready  # noqa: E402

from polytope_lens.assets import FRONTEND_DIR  # noqa: E402
from polytope_lens.web.routers.pages import PLOTLY_BASIC_JS, PLOTLY_JS  # noqa: E402


def load(browser, url: str, full: bytes | None) -> tuple[float, float, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        if full is not None:
            page.route("**/static/vendor/plotly.min.js",
                       lambda route: route.fulfill(status=200, body=full, content_type="text/javascript"))
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        t0 = time.perf_counter()
        page.goto(url)
        wait_ready(page, timeout=60_000)
        wall = time.perf_counter() - t0
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return wall, metrics["ScriptDuration"], metrics["TaskDuration"]
    finally:
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    if not (FRONTEND_DIR / PLOTLY_BASIC_JS).is_file():
        sys.exit("no basic bundle in frontend/vendor/: run scripts/setup.sh first")
    full = PLOTLY_JS.read_bytes()
    got = {"basic": [], "full": []}
    with ServeProcess() as server, sync_playwright() as p:
        browser = launch_chromium(p)
        load(browser, f"{server.url}/?res=128", None)  # warm: the server's first session
        for _ in range(rounds):
            for kind in ("basic", "full"):
                got[kind].append(load(browser, f"{server.url}/?res=128", full if kind == "full" else None))
        browser.close()
    medians = {kind: [statistics.median(v[i] for v in runs) for i in range(3)] for kind, runs in got.items()}
    for kind, (wall, script, task) in medians.items():
        print(f"{kind:5s} bundle: ready in {wall:.2f} s, script {script:.2f} s, main-thread tasks {task:.2f} s"
              f" (median of {rounds})")
    b, f = medians["basic"], medians["full"]
    print(f"full / basic: ready {f[0] / b[0]:.2f}x, script {f[1] / b[1]:.2f}x, tasks {f[2] / b[2]:.2f}x")


if __name__ == "__main__":
    main()
