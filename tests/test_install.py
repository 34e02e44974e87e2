"""The package installs anywhere: a wheel, installed into a fresh virtual environment outside the
checkout, serves the page, the samples and live frames, started from an unrelated folder."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import httpx
import pytest
from browser import free_port
from live_server import LiveClient, wait_healthy

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the built wheel; its dependencies (torch, fastapi, ...) are read from
    this test run's environment through a .pth line, so no multi-gigabyte download happens."""
    root = tmp_path_factory.mktemp("install")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO_ROOT)],
        check=True, cwd=root, timeout=300,
    )
    wheel = next(dist.glob("polytope_lens-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "polytope_lens/frontend/index.html" in names and "polytope_lens/sample_images/ring.png" in names
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "deps-from-test-run.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip --python installs into that environment (never touching this one's editable install)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, timeout=300)
    return env_dir


def test_wheel_serves_page_samples_and_frames_from_another_folder(installed, tmp_path):
    python = installed / "bin" / "python"
    where = subprocess.check_output([str(python), "-c", "import polytope_lens; print(polytope_lens.__file__)"],
                                    cwd=tmp_path, text=True).strip()
    assert where.startswith(str(installed)) and not where.startswith(str(REPO_ROOT))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(installed / "bin" / "polytope-lens"), "serve", "--port", str(port)],
                              cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_healthy(url, timeout=60, process=server)
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "<script" in page.text
        assert httpx.get(url + "/static/app.js").status_code == 200
        samples = {s["id"] for s in httpx.get(url + "/api/samples").json()}
        assert {"ring", "spiral"} <= samples
        ring = httpx.get(url + "/api/images/ring?size=64")
        assert ring.status_code == 200 and ring.content[:8] == b"\x89PNG\r\n\x1a\n"
        with LiveClient(url.replace("http", "ws") + "/ws") as client:
            status = client.configure(layers="6x2", train_points=300, val_points=100, resolution=32)
            assert status["state"] == "paused"
            assert client.frames[-1]["resolution"] == 32
    finally:
        server.terminate()
        server.wait(10)
        log.close()
