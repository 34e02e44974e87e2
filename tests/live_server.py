"""A real Polytope Lens server for tests: uvicorn in a subprocess on a free loopback port.

    from live_server import running_server

    with running_server(max_sessions=2) as url:   # Settings fields as keywords
        httpx.get(f"{url}/api/health")            # url == "http://127.0.0.1:PORT"
        url.ws                                     # "ws://127.0.0.1:PORT/ws"
        psutil.Process(url.pid)                    # the server process (threads, memory)

The server is started with ``polytope_lens.web.app.uvicorn_config`` (the same
uvicorn settings ``serve`` uses) on a socket bound here and handed to the child,
so there is no race for the port. ``running_server`` waits for ``/api/health``
and stops the server (SIGINT, then SIGKILL) on exit.

``running_app(app)`` serves an app object in a thread of the test process
instead, for tests that look at ``app.state`` or the process's threads.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


import psutil

from polytope_lens.core.settings import VIEW_FIELDS
from polytope_lens.web.app import uvicorn_config
from polytope_lens.web.config import Settings

_CHILD = """
import base64, pickle, socket, sys
import uvicorn
from polytope_lens.web.app import uvicorn_config
settings = pickle.loads(base64.b64decode(sys.argv[2]))
sock = socket.socket(fileno=int(sys.argv[1]))
uvicorn.Server(uvicorn_config(settings, log_level=sys.argv[3])).run(sockets=[sock])
"""


class ServerURL(str):
    """The server's base URL (``http://127.0.0.1:PORT``), with the process and helpers attached."""

    process: subprocess.Popen | None
    log_path: Path | None

    def __new__(cls, url: str, process: subprocess.Popen | None = None, log_path: Path | None = None):
        obj = super().__new__(cls, url)
        obj.process = process
        obj.log_path = log_path
        return obj

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else os.getpid()

    @property
    def port(self) -> int:
        return int(self.rsplit(":", 1)[1])

    @property
    def ws(self) -> str:
        return "ws" + self[len("http") :] + "/ws"

    def log(self) -> str:
        """What the server wrote to stdout/stderr so far (for assertion messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants (a server and its workers)."""
    process = psutil.Process(pid)
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that ended meanwhile
            pass
    return total


def wait_healthy(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} did not answer /api/health within {timeout:g} s ({last})")


@contextlib.contextmanager
def running_server(
    *,
    env: dict[str, str] | None = None,
    torch_threads: int | None = 1,
    log_level: str = "warning",
    startup_timeout: float = 60.0,
    **settings,
) -> Iterator[ServerURL]:
    """Run ``create_app(Settings(**settings))`` under uvicorn in a subprocess; yields its URL.

    ``torch_threads`` (default 1) sets OMP_NUM_THREADS for the server: tests share a
    small machine. ``env`` adds environment variables.
    """
    config = Settings(**settings)  # a typo in a field name fails here, in the test
    payload = base64.b64encode(pickle.dumps(config)).decode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    child_env = dict(os.environ)
    if torch_threads is not None:
        child_env["OMP_NUM_THREADS"] = str(torch_threads)
        child_env["MKL_NUM_THREADS"] = str(torch_threads)
    child_env.update(env or {})
    log_file = tempfile.NamedTemporaryFile(prefix="polytope-lens-server-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(sock.fileno()), payload, log_level],
            pass_fds=(sock.fileno(),),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=child_env,
        )
    finally:
        sock.close()  # the child holds its own copy
        log_file.close()
    url = ServerURL(f"http://127.0.0.1:{port}", process, log_path)
    try:
        try:
            wait_healthy(url, startup_timeout, process)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- server log ---\n{url.log()[-4000:]}") from None
        yield url
    finally:
        stop_process(process)
        with contextlib.suppress(OSError):
            log_path.unlink()


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: sessions closed, temp uploads removed
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextlib.contextmanager
def running_app(app, **uvicorn_overrides) -> Iterator[ServerURL]:
    """Serve ``app`` with uvicorn in a thread of this process (``url.pid`` is this process)."""
    import uvicorn

    settings = getattr(app.state, "settings", None) or Settings()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn_config(settings, app=app, log_level="warning", **uvicorn_overrides)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="test-uvicorn", daemon=True)
    thread.start()
    url = ServerURL(f"http://127.0.0.1:{port}")
    try:
        wait_healthy(url, 30.0)
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextlib.contextmanager
def serving_here(**settings) -> Iterator[ServerURL]:
    """``create_app(Settings(**settings))`` served in this process (``running_app``): no new Python
    process importing torch (a few CPU-seconds each), for tests of routes and settings that need no
    session (with the default engine, a first session still starts its fork server)."""
    from polytope_lens.web.app import create_app

    with running_app(create_app(Settings(**settings))) as url:
        yield url


# -- a small websocket client ----------------------------------------------------------
class LiveClient:
    """A websocket session against a running server (the `websockets` package, sync API).

    Every JSON message received is appended to ``messages`` and every frame header to
    ``frames``, whatever the call that read it, so a test can look back.
    """

    def __init__(self, url: ServerURL | str, *, origin: str | None = None, read_status: bool = True, **connect_kw):
        from websockets.sync.client import connect

        ws_url = url.ws if isinstance(url, ServerURL) else url
        connect_kw.setdefault("max_size", 64 * 1024 * 1024)
        connect_kw.setdefault("open_timeout", 20)
        if origin is not None:
            connect_kw["origin"] = origin
        self.ws = connect(ws_url, **connect_kw).__enter__()  # (websockets >= 17.1 wants a context manager)
        self.messages: list[dict] = []
        self.frames: list[dict] = []
        self.sections: dict[str, bytes] = {}
        self.status: dict | None = None
        self.token: str | None = None
        if read_status:
            self.status = self.expect("status")
            self.token = self.status["token"]

    def __enter__(self) -> "LiveClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()

    def send(self, kind: str, **fields) -> None:
        import json

        self.ws.send(json.dumps({"type": kind, **fields}))

    def send_raw(self, data: str | bytes) -> None:
        self.ws.send(data)

    def recv(self, timeout: float = 10.0):
        """The next message: a dict (JSON, with 'type') or a frame header dict with type 'frame'."""
        import json

        from polytope_lens.web.wire import decode_frame

        raw = self.ws.recv(timeout=timeout)
        if isinstance(raw, bytes):
            header, sections = decode_frame(raw)
            header["_bytes"] = len(raw)
            self.frames.append(header)
            self.sections = sections
            return header
        message = json.loads(raw)
        self.messages.append(message)
        if message.get("type") == "status":
            self.status = message
        return message

    def expect(self, kind: str, timeout: float = 20.0, where=None) -> dict:
        """Read until a message of type ``kind`` (and ``where(message)``) arrives; skip others."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{kind}' message within {timeout:g} s; last messages: {self.messages[-5:]}")
            try:
                message = self.recv(timeout=left)
            except TimeoutError:
                continue
            if message.get("type") == kind and (where is None or where(message)):
                return message

    def quiet(self, seconds: float) -> list[dict]:
        """Everything that arrives within ``seconds`` (nothing expected)."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.recv(timeout=left))
            except TimeoutError:
                break
        return got

    def configure(self, **config) -> dict:
        """Send ``configure`` and wait for its status, points and first frame; returns the status.

        View settings among ``config`` (resolution, ...) go first in a ``view`` message, as the page does.
        """
        view = {k: config.pop(k) for k in list(config) if k in VIEW_FIELDS}
        if view:
            self.send("view", **view)
        self.send("configure", config=config)
        status = self.expect("status", where=lambda m: m.get("message") == "new network" or m.get("state") == "paused")
        self.expect("points")
        self.expect("frame", where=lambda f: f["step"] == status["step"])
        return status


SMALL_CONFIG = dict(layers="8x3", train_points=1000, val_points=200, batch_size=256, resolution=64)


# -- a websocket by hand, for clients that misbehave -----------------------------------
def raw_websocket(server, rcvbuf: int | None = None) -> socket.socket:
    """A websocket handshake by hand: a client that can then simply stop reading or answering."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1)
    assert reply.startswith(b"HTTP/1.1 101"), reply
    return sock


def client_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it (for raw_websocket)."""
    data = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    if len(data) < 126:
        head += bytes([0x80 | len(data)])
    else:
        head += bytes([0x80 | 126]) + struct.pack(">H", len(data))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


# -- a network that can fail -------------------------------------------------------------
class CuttableRelay:
    """A TCP relay to ``port`` on this machine whose connections a test cuts at once (``cut``),
    as a network blip does: both ends see their connection reset, no websocket close frame."""

    def __init__(self, port: int):
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def __enter__(self) -> "CuttableRelay":
        return self

    def __exit__(self, *exc) -> None:
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self._listener.accept()
                far = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                return
            with self._lock:
                self._open += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), name="relay-pump", daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> int:
        """Reset every connection open now; returns how many were cut."""
        with self._lock:
            cut, self._open = self._open, []
        for sock in cut:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(cut) // 2
