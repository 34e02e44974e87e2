"""Issue 11's probes against a real server on loopback, with default settings, printing one line each.

    .venv/bin/python benchmarks/hardening_probe.py            # all probes, about a minute
    .venv/bin/python benchmarks/hardening_probe.py 1 2        # some of them

Run it with PYTHONPATH pointing at another checkout's backend/ to compare with older code.
[1] health latency during the heaviest geometry requests, and bytes per region
[2] 200 idle sockets from 127.0.0.1: /api/health from 127.0.0.2
[3] foreign Host and cross-site upload
[4] 1,000 configures at once: replies
[5] memory and threads after four 36-megapixel uploads
[6] 20 parallel layer-counts
[8] an all-NaN TIFF, and the log after a refused origin
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from live_server import LiveClient, running_server  # noqa: E402

WIDE = dict(layers="64x8", train_points=1000, val_points=200, batch_size=256, resolution=64)


def health_during(url: str, work) -> tuple[object, float]:
    """Run ``work()`` while polling /api/health every 50 ms; its result and the slowest answer (s)."""
    stop, latencies = threading.Event(), []

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                t0 = time.monotonic()
                client.get("/api/health")
                latencies.append(time.monotonic() - t0)
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = work()
        time.sleep(0.2)
    finally:
        stop.set()
        poller.join()
    return result, max(latencies)


def probe_geometry(url: str) -> None:
    with LiveClient(url) as wide:
        wide.configure(**WIDE)
        base = f"{url}/api/sessions/{wide.token}/regions.json"
        for layers in (6, 4):
            t0 = time.monotonic()
            r, worst = health_during(url, lambda: httpx.get(base, params={"layers": layers}, timeout=120))
            took = time.monotonic() - t0
            per = len(r.content) / r.json()["region_count"] if r.status_code == 200 else float("nan")
            print(f"[1] regions.json?layers={layers} of 64x8: {r.status_code}, {len(r.content) / 1e6:.1f} MB "
                  f"({per:.0f} B/region) in {took:.1f} s; slowest health answer meanwhile {worst * 1000:.0f} ms")


def probe_idle_sockets(url: str) -> None:
    idle = [socket.create_connection(("127.0.0.1", url.port)) for _ in range(200)]
    try:
        time.sleep(0.3)
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10) as other:
            t0 = time.monotonic()
            r = other.get(f"{url}/api/health")
            print(f"[2] 200 idle sockets from 127.0.0.1; /api/health from 127.0.0.2: {r.status_code} "
                  f"in {(time.monotonic() - t0) * 1000:.0f} ms")
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.5)


def probe_sites(url: str) -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 64)).save(png, "PNG")
    host = httpx.get(f"{url}/api/health", headers={"Host": "evil.example"})
    post = httpx.post(f"{url}/api/images", files={"file": ("a.png", png.getvalue(), "image/png")},
                      headers={"Origin": "http://evil.example"})
    print(f"[3] GET with Host: evil.example: {host.status_code}; POST /api/images from Origin evil.example: "
          f"{post.status_code}")


def probe_flood(url: str) -> None:
    n = 1000
    with LiveClient(url) as client:
        for i in range(n):
            client.send("configure", config={"layers": "8x2", "train_points": 300, "val_points": 100,
                                             "batch_size": 128, "resolution": 16, "seed": i})
        applied = refused = 0
        end = time.monotonic() + 60
        while time.monotonic() < end and applied + refused < n:
            try:
                message = client.recv(timeout=3)
            except TimeoutError:
                break
            if message["type"] == "status" and message.get("message") == "new network":
                applied += 1
            elif message["type"] == "error":
                refused += 1
    print(f"[4] {n} configures at once: {applied} applied, {refused} 'slow down', {n - applied - refused} unanswered")


def probe_uploads(url: str) -> None:
    side = 6000
    x = np.linspace(0, 255, side, dtype=np.float32)
    img = Image.fromarray((x[None, :] * 0.5 + x[:, None] * 0.5).astype(np.uint8), "L").convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    data = buf.getvalue()
    process = psutil.Process(url.pid)

    def upload() -> None:
        httpx.post(f"{url}/api/images", files={"file": ("b.png", data, "image/png")}, timeout=120)

    upload()
    time.sleep(3)
    base_rss, base_threads = process.memory_info().rss, process.num_threads()
    burst = [threading.Thread(target=upload) for _ in range(4)]
    for thread in burst:
        thread.start()
    peak = 0
    while any(t.is_alive() for t in burst):
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.02)
    time.sleep(3)
    print(f"[5] four {side * side / 1e6:.0f}-MP uploads: RSS {base_rss >> 20} MiB -> peak {peak >> 20} -> "
          f"{process.memory_info().rss >> 20} MiB 3 s later; threads {base_threads} -> {process.num_threads()}")


def probe_storm(url: str) -> None:
    with LiveClient(url) as wide:
        wide.configure(**{**WIDE, "layers": "64x5"})
        answers = [None] * 20

        def ask(i: int) -> None:
            answers[i] = httpx.get(f"{url}/api/sessions/{wide.token}/layer-counts", timeout=120)

        def storm() -> None:
            askers = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
            for thread in askers:
                thread.start()
            for thread in askers:
                thread.join()

        _, worst = health_during(url, storm)
    kinds: dict[str, int] = {}
    for a in answers:
        key = f"{a.status_code}" + (f" complete={a.json()['complete']}" if a.status_code == 200 else "")
        kinds[key] = kinds.get(key, 0) + 1
    print(f"[6] 20 parallel layer-counts of 64x5: {kinds}; slowest health answer {worst * 1000:.0f} ms")


def probe_odd_inputs(url: str) -> None:
    tiff = io.BytesIO()
    Image.fromarray(np.full((64, 64), np.nan, np.float32), "F").save(tiff, "TIFF")
    r = httpx.post(f"{url}/api/images", files={"file": ("n.tif", tiff.getvalue(), "image/tiff")})
    try:
        LiveClient(url, origin="http://evil.example")
    except Exception:  # noqa: BLE001 - refused, as it should be
        pass
    time.sleep(0.3)
    print(f"[8] all-NaN TIFF: {r.status_code}; ERROR lines logged for a refused origin: {url.log().count('ERROR')}")


PROBES = {"1": probe_geometry, "2": probe_idle_sockets, "3": probe_sites, "4": probe_flood,
          "5": probe_uploads, "6": probe_storm, "8": probe_odd_inputs}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(PROBES)
    with running_server(max_sessions=4) as server:
        for key in chosen:
            PROBES[key](server)
