"""Headless Chromium against a real ``polytope-lens serve``: the harness of tests/test_browser.py.

    from browser import ServeProcess, launch_chromium, PageLog, canvas_stats

    with ServeProcess() as server:          # `polytope-lens serve --port PORT` in a subprocess
        server.url                          # "http://127.0.0.1:PORT"
        server.stop(); server.start()       # a restart on the same port

``ServeProcess`` runs the installed console command ``polytope-lens serve``.

Chromium is Debian's (``/usr/bin/chromium``), driven through Playwright; no browser
is ever downloaded. The page has a strict CSP without ``unsafe-eval``: every
``page.evaluate`` / ``page.wait_for_function`` gets a *function* string (an arrow
function), never a bare expression.

Run as a script, it renders the README's screenshots of the app::

    .venv/bin/python tests/browser.py --screenshots docs/images
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from live_server import stop_process, wait_healthy

REPO_ROOT = Path(__file__).resolve().parents[1]
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# -- Chromium ---------------------------------------------------------------------------
def playwright_or_skip():
    """``(expect, sync_playwright)`` for a browser test module, called at its top: the module is
    skipped where there is no Chromium or no Playwright, unless CI is set (in CI, where
    scripts/test.sh installs both, a browser test never skips: a missing one fails)."""
    import pytest

    if chromium_path() is None and not os.environ.get("CI"):
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium, or run scripts/test.sh); "
                    "browser tests run whenever CI is set", allow_module_level=True)
    if os.environ.get("CI"):
        from playwright.sync_api import expect, sync_playwright
    else:
        api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
        expect, sync_playwright = api.expect, api.sync_playwright
    return expect, sync_playwright

def chromium_path() -> str | None:
    """Debian's Chromium, or a ``chromium`` on PATH; None when there is none."""
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium")


def launch_chromium(playwright, **kwargs):
    path = chromium_path()
    if path is None:
        raise RuntimeError(f"no Chromium at {DEBIAN_CHROMIUM} or on PATH (scripts/test.sh installs Debian's)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, **kwargs)


# -- the server ---------------------------------------------------------------------------
def console_script() -> str:
    """The ``polytope-lens`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("polytope-lens")
    return str(beside) if beside.exists() else (shutil.which("polytope-lens") or str(beside))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """A real server in a subprocess on a fixed loopback port (so it can be restarted there)."""

    def __init__(self, port: int | None = None, env: dict[str, str] | None = None, startup_timeout: float = 60.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
        self.command = [console_script(), "serve", "--port", str(self.port)]
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None  # the server's stdout and stderr, all its runs

    def __enter__(self) -> "ServeProcess":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def log(self, tail: int = 4000) -> str:
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                return self.log_path.read_text(errors="replace")[-tail:]
        return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.alive():
            return
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="polytope-lens-browser-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env, cwd=REPO_ROOT
            )
        try:
            wait_healthy(self.url, self.startup_timeout, self.process)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise type(exc)(f"`{' '.join(self.command[:3])}`: {exc}\n--- server log ---\n{self.log()}") from None

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, timeout)  # SIGINT, what Ctrl-C does: uvicorn's graceful shutdown

    def get_json(self, path: str):
        import json

        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.load(response)


# -- what the page said -------------------------------------------------------------------
# Console errors a page may log because of the network, not because of a bug: a failed
# HTTP request (e.g. the 415 of a refused upload) or a websocket that could not connect.
NETWORK_ERRORS = (
    re.compile(r"^Failed to load resource: "),
    re.compile(r"^WebSocket connection to '.*' failed"),
    re.compile(r"net::ERR_"),
)


@dataclass
class PageLog:
    """Console messages and uncaught exceptions of one page."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page) -> "PageLog":
        page.on("console", lambda msg: self.console.append((msg.type, msg.text)))
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        return self

    def errors(self, *, network_ok: bool = True) -> list[str]:
        """Console errors and uncaught exceptions, without the expected network errors."""
        out = [f"uncaught: {e}" for e in self.page_errors]
        for kind, text in self.console:
            if kind != "error":
                continue
            if network_ok and any(p.search(text) for p in NETWORK_ERRORS):
                continue
            out.append(f"console.error: {text}")
        return out

    def warnings(self) -> list[str]:
        return [text for kind, text in self.console if kind == "warning"]


# -- reading the page ---------------------------------------------------------------------
# (testid) => {hash, lit, width, height}: an FNV-1a hash of a canvas's RGBA pixels and
# how many are not transparent. Canvases stay untainted (same-origin pictures only).
CANVAS_STATS = """(testid) => {
  const c = document.querySelector(`[data-testid="${testid}"]`);
  if (!c || !c.width || !c.height) return null;
  const px = new Uint32Array(c.getContext("2d").getImageData(0, 0, c.width, c.height).data.buffer);
  let hash = 2166136261, lit = 0;
  for (let i = 0; i < px.length; i++) {
    const v = px[i];
    if (v >>> 24) lit++;
    hash = Math.imul(hash ^ v, 16777619) >>> 0;
  }
  return {hash, lit, width: c.width, height: c.height};
}"""

# (testid) => [mean grey of the left half, mean grey of the right half] of a canvas.
CANVAS_HALVES = """(testid) => {
  const c = document.querySelector(`[data-testid="${testid}"]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const sums = [0, 0], counts = [0, 0];
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) {
      const i = 4 * (y * c.width + x);
      if (d[i + 3] === 0) continue;
      const half = x < c.width / 2 ? 0 : 1;
      sums[half] += (d[i] + d[i + 1] + d[i + 2]) / 3;
      counts[half] += 1;
    }
  }
  return [sums[0] / Math.max(1, counts[0]), sums[1] / Math.max(1, counts[1])];
}"""

TEXT_OF = """(testid) => { const e = document.querySelector(`[data-testid="${testid}"]`); return e ? e.textContent.trim() : null; }"""


# Bytes cross from the page as base64 text: Array.from(typed array) sends a JSON list with one number
# per byte (millions for a panel at device pixels), which costs seconds of CPU on both sides.
_AS_BASE64 = """(a) => { const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); let s = "";
  for (let i = 0; i < b.length; i += 32768) s += String.fromCharCode.apply(null, b.subarray(i, i + 32768));
  return btoa(s); }"""


def page_bytes(page, typed_array_js: str, arg=None) -> tuple[np.ndarray, object]:
    """``typed_array_js``: a JS function of ``arg`` returning ``{data: a typed array, ...}``; returns its data
    as flat uint8 and the rest of the object (e.g. the size)."""
    got = page.evaluate(f"""async (arg) => {{ const r = await ({typed_array_js})(arg);
      return {{...r, data: ({_AS_BASE64})(r.data)}}; }}""", arg)
    data = np.frombuffer(base64.b64decode(got.pop("data")), dtype=np.uint8)
    return data, got


_CANVAS_RGBA = """(testid) => { const c = document.querySelector(`[data-testid="${testid}"]`);
  return {size: c.width, height: c.height, data: c.getContext("2d").getImageData(0, 0, c.width, c.height).data}; }"""


def canvas_rgb(page, testid: str) -> np.ndarray:
    """A 2-D canvas's pixels, (height, width, 3) uint8."""
    data, meta = page_bytes(page, _CANVAS_RGBA, testid)
    return data.reshape(meta["height"], meta["size"], 4)[:, :, :3]


def renderer_rgb(page, options_js: str) -> np.ndarray:
    """The page's WebGL renderer's picture ``readImage(options)`` (square), (size, size, 3) uint8."""
    data, meta = page_bytes(page, f"""() => {{ const r = window.polytopeLens.gpu.renderer;
      return {{size: r.size[0], data: r.readImage({options_js})}}; }}""")
    return data.reshape(meta["size"], meta["size"], 4)[:, :, :3]


def canvas_stats(page, testid: str) -> dict | None:
    return page.evaluate(CANVAS_STATS, testid)


def canvas_halves(page, testid: str) -> list[float]:
    return page.evaluate(CANVAS_HALVES, testid)


def text_of(page, testid: str) -> str | None:
    return page.evaluate(TEXT_OF, testid)


def wait_canvas_change(page, testid: str, before: dict | None, timeout: float = 20_000) -> dict:
    """Wait until a canvas shows something (non-transparent pixels) other than ``before``."""
    page.wait_for_function(
        f"([id, before]) => {{ const s = ({CANVAS_STATS})(id); return s !== null && s.lit > 0 && s.hash !== before; }}",
        arg=[testid, before["hash"] if before else None],
        timeout=timeout,
    )
    return canvas_stats(page, testid)


def wait_number(page, testid: str, op: str, value: float, timeout: float = 20_000) -> float:
    """Wait until the number shown in ``testid`` compares (``op``: >=, >, ==) to ``value``; returns it."""
    assert op in (">=", ">", "==")
    js_op = "===" if op == "==" else op
    page.wait_for_function(
        f"([id, v]) => {{ const e = document.querySelector(`[data-testid=\"${{id}}\"]`);"
        f" const t = e ? e.textContent.trim() : ''; return t !== '' && Number.isFinite(Number(t)) && Number(t) {js_op} v; }}",
        arg=[testid, value],
        timeout=timeout,
    )
    return float(text_of(page, testid))


def settled_text(page, testid: str, quiet_ms: int = 300, timeout: float = 10.0) -> str | None:
    """The text of ``testid`` once it stayed the same for ``quiet_ms`` (e.g. a last frame drawn)."""
    deadline = time.monotonic() + timeout
    last = text_of(page, testid)
    while True:
        page.wait_for_timeout(quiet_ms)
        now = text_of(page, testid)
        if now == last or time.monotonic() > deadline:
            return now
        last = now


def wait_ready(page, timeout: float = 30_000) -> None:
    """The page is connected, its network configured (paused at step 0) and the gallery listed."""
    page.wait_for_function(
        """() => {
          const q = (id) => document.querySelector(`[data-testid="${id}"]`);
          return q("connection-status").dataset.state === "open"
            && q("run-state").dataset.state === "paused"
            && q("step-counter").textContent.trim() === "0"
            && document.querySelectorAll('[data-testid^="sample-"]').length > 0;
        }""",
        timeout=timeout,
    )


def blur(page) -> None:
    """Move the focus off any field or button (space only toggles training from the page itself)."""
    page.evaluate("() => { if (document.activeElement) document.activeElement.blur(); }")


# -- screenshots for the README ------------------------------------------------------------
def take_screenshots(out_dir: Path, seconds: float = 10.0, render: str = "client") -> list[Path]:
    """The app after ``seconds`` of training on the ring, on a 1440x900 laptop screen: plain, with
    coloured regions, a network-diagram node pinned (its switching line on the partition), paused
    with one region inspected; replaying an earlier step zoomed in; on a 390x844 phone; and the 3-D surface.
    ``render``: who draws (the page's renderer by default, forced, as this Chromium's WebGL2 is
    software)."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    plain, regions, inspected = out_dir / "app.png", out_dir / "app-regions.png", out_dir / "app-inspector.png"
    diagram, replay, phone = out_dir / "app-diagram.png", out_dir / "app-replay-zoom.png", out_dir / "app-phone.png"
    surface = out_dir / "app-surface.png"
    with ServeProcess() as server, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{server.url}/?img=ring&render={render}")
            wait_ready(page)
            page.get_by_test_id("start-button").click()
            wait_number(page, "step-counter", ">", 0)
            page.wait_for_timeout(seconds * 1000)
            # While it trains (Pause button, steps per second); the charts get their 4-per-second update.
            page.screenshot(path=str(plain))
            before = canvas_stats(page, "panel-partition")
            page.get_by_test_id("fill-regions-toggle").check()
            wait_canvas_change(page, "panel-partition", before)  # now in region colours
            page.wait_for_timeout(500)
            page.screenshot(path=str(regions))
            page.get_by_test_id("fill-regions-toggle").uncheck()
            page.get_by_test_id("pause-button").click()
            expect_paused = "() => document.querySelector('[data-testid=run-state]').dataset.state === 'paused'"
            page.wait_for_function(expect_paused)
            # A node of the diagram pinned: where that third-layer neuron switches, on the partition.
            before = canvas_stats(page, "partition-overlay")
            page.locator("[data-testid=network-diagram] .diagram-node[data-layer='3'][data-neuron='4']").click()
            wait_canvas_change(page, "partition-overlay", before)
            if page.get_by_test_id("weight-close").is_visible():  # the click also opened the bias editor
                page.get_by_test_id("weight-close").click()
            page.mouse.move(5, 5)
            page.wait_for_timeout(500)
            panels = page.locator("#panels").bounding_box()
            page.screenshot(path=str(diagram), clip={"x": panels["x"] - 8, "y": panels["y"] - 8,
                                                     "width": panels["width"] + 16, "height": panels["height"] + 16})
            page.locator("[data-testid=network-diagram] .diagram-node.pinned").click()  # unpinned
            if page.get_by_test_id("weight-close").is_visible():
                page.get_by_test_id("weight-close").click()
            box = page.get_by_test_id("panel-partition").bounding_box()
            page.mouse.click(box["x"] + 0.63 * box["width"], box["y"] + 0.31 * box["height"])
            page.wait_for_function("() => document.querySelector('[data-testid=inspector]').dataset.state === 'ready'")
            # the inspector's card, its top just below the sticky top bar (which would cover part of it)
            page.evaluate("""() => { const bar = document.querySelector('.topbar').getBoundingClientRect().height;
                const card = document.querySelector('[data-testid=inspector]').getBoundingClientRect();
                window.scrollBy(0, card.top - bar - 8); }""")
            page.wait_for_timeout(500)
            card = page.get_by_test_id("inspector").bounding_box()
            page.screenshot(path=str(inspected), clip={"x": card["x"], "y": card["y"], "width": card["width"],
                                                       "height": min(card["height"], 900 - card["y"])})
            page.close()
            take_replay_screenshot(browser, server, replay, seconds)
            take_phone_screenshot(browser, server, phone, render)
            take_surface_screenshot(browser, server, surface)
        finally:
            browser.close()
    return [plain, regions, diagram, inspected, replay, phone, surface]


def take_phone_screenshot(browser, server, path: Path, render: str) -> None:
    """The first screen on a 390x844 phone: the run controls, then the partition panel."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{server.url}/?img=ring&render={render}")
    wait_ready(page)
    page.get_by_test_id("start-button").tap()
    wait_number(page, "step-counter", ">", 300, timeout=60_000)
    page.screenshot(path=str(path))
    context.close()


def take_replay_screenshot(browser, server, path: Path, seconds: float) -> None:
    """The page drawing from the weights (forced: this Chromium's WebGL2 is software), scrubbed
    back to a third of the run and zoomed in on the ring's inner edge."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server.url}/?img=ring&fill=1&render=client")
    wait_ready(page)
    page.get_by_test_id("start-button").click()
    wait_number(page, "step-counter", ">", 0)
    page.wait_for_timeout(seconds * 1000)
    page.get_by_test_id("pause-button").click()
    page.wait_for_function("() => document.querySelector('[data-testid=run-state]').dataset.state === 'paused'")
    page.wait_for_timeout(500)
    slider = page.get_by_test_id("timeline")
    slider.fill(str(int(int(slider.get_attribute("max")) / 3)))
    box = page.get_by_test_id("panel-partition").bounding_box()
    page.mouse.move(box["x"] + 0.62 * box["width"], box["y"] + 0.38 * box["height"])
    for _ in range(3):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(300)
    page.wait_for_timeout(1500)
    panels = page.locator("#panels").bounding_box()
    bar = page.get_by_test_id("timeline-bar").bounding_box()
    page.screenshot(path=str(path), clip={"x": panels["x"] - 8, "y": panels["y"] - 8, "width": panels["width"] + 16,
                                          "height": bar["y"] + bar["height"] - panels["y"] + 16})
    page.close()


def take_surface_screenshot(browser, server, path: Path, steps: int = 2000) -> None:
    """The 3-D surface panel (frontend/surface/) of a 14x6 trained ``steps`` steps on the ring, paused
    (exact, one facet per linear region), one region inspected (outlined), turned a little."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server.url}/?img=ring&layers=14x6&render=client&surface=1")
    wait_ready(page)
    page.fill("[data-testid=step-n-input]", str(steps))
    page.get_by_test_id("step-button").click()
    panel = "document.querySelector('[data-testid=surface-panel]')"
    page.wait_for_function(f"(s) => {panel}.dataset.kind === 'exact' && {panel}.dataset.step === s", arg=str(steps),
                           timeout=300_000)
    canvas = page.get_by_test_id("surface-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.44 * box["width"], box["y"] + 0.47 * box["height"], steps=5)
    page.mouse.up()
    page.mouse.click(box["x"] + 0.62 * box["width"], box["y"] + 0.42 * box["height"])  # a facet: its region inspected
    page.wait_for_function("() => document.querySelector('[data-testid=inspector]').dataset.state === 'ready'")
    page.wait_for_timeout(800)
    page.get_by_test_id("surface-panel").screenshot(path=str(path))
    page.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screenshots", type=Path, metavar="DIR", required=True,
                        help="write app.png, app-regions.png, app-diagram.png, app-inspector.png, app-replay-zoom.png, "
                             "app-phone.png and app-surface.png here")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of training before the screenshot")
    parser.add_argument("--render", choices=["client", "server"], default="client", help="who draws the first three (default: the page)")
    args = parser.parse_args()
    for path in take_screenshots(args.screenshots, args.seconds, args.render):
        print(path)
