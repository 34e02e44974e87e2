"""The server's settings (docs/guide.md "Limits and server settings"; `polytope-lens serve --help`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..assets import FRONTEND_DIR
from ..sources.chain import MAX_NETWORK_FILE_BYTES
from .networkstore import NetworkStoreLimits
from .protocol import LiveLimits
from .sessions.engine import Engine
from .store import StoreLimits


@dataclass
class Settings:
    """Server limits. host/port, the websocket sizes, ping and connection limits take effect
    through ``serving.uvicorn_config``/``serve`` (uvicorn's own settings); the rest in ``create_app``."""

    host: str = "127.0.0.1"  # loopback only; "0.0.0.0" exposes the server to the network
    port: int = 8000
    max_sessions: int = 4  # websocket sessions at once (each may train); one more is told "busy"
    max_upload_bytes: int = 20 * 1024 * 1024  # largest picture file; larger uploads get 413
    data_dir: Path | None = None  # keep uploads in data_dir/uploads (across restarts); None: a temp folder
    samples_dir: Path | None = None
    uploads_dir: Path | None = None  # overrides data_dir/uploads
    frontend_dir: Path = FRONTEND_DIR
    store_limits: StoreLimits = field(default_factory=StoreLimits)  # kept uploads: count, bytes
    max_network_bytes: int = MAX_NETWORK_FILE_BYTES  # largest model file (and, apart, points file); 413 past it
    network_limits: NetworkStoreLimits = field(default_factory=NetworkStoreLimits)  # opened networks kept
    live_limits: LiveLimits = field(default_factory=LiveLimits)  # message size, cost of a live run
    device: str | None = None
    max_ws_message_bytes: int = 4 * 1024 * 1024  # uvicorn ws_max_size: bigger messages close the socket (1009)
    send_timeout_s: float = 10.0  # a client that takes no message for this long is dropped
    ping_interval_s: float = 10.0  # websocket keep-alive pings ...
    ping_timeout_s: float = 10.0  # ... and how long a pong may take before the connection is dropped
    resume_grace_s: float = 60.0  # a session whose socket dropped waits this long for its page (?resume=TOKEN)
    max_queued_commands: int = 16  # commands waiting per session; more get "slow down"
    # where each live session trains (sessions/engine.py); the plain names ("thread") are taken too.
    # Ray: on the cluster at ray_address, or a local Ray
    session_engine: Engine = Engine.PROCESS
    ray_address: str | None = None
    cpus_per_session: float = 1.0  # Ray resources each session's actor asks for
    max_parallel_jobs: int = 2  # uploads decoded and downloads rendered at once; more wait their turn
    max_connections: int = 256  # uvicorn limit_concurrency: HTTP/websocket connections before 503
    max_connections_per_client: int = 32  # connections from one address at once (web/connections.py)
    header_timeout_s: float = 10.0  # a request's line and headers must arrive within this
    body_timeout_s: float = 15.0  # longest pause inside a request body before the connection is closed
    keep_alive_timeout_s: float = 5.0  # an idle keep-alive connection is closed after this
    max_header_bytes: int = 64 * 1024  # request line and headers; more get 431
    allowed_origins: tuple[str, ...] = ()  # extra browser origins that may open /ws and POST ("*": any)
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides 127.0.0.1, localhost, ::1 and host ("*": any)
    live_memory_bytes: int | None = 2048 * 1024 * 1024  # all live sessions together (web/budget.py estimate)
    max_threads: int = 8  # threads for blocking work (uploads, downloads, closing sessions); idle ones end
    geometry_workers: int = 2  # worker processes for heavy exact geometry (regions, counts, lines)
    geometry_queue: int = 8  # geometry requests that may wait for a worker; more get 503 at once
    geometry_wait_s: float = 10.0  # longest wait for a worker before 503 (Retry-After)
    runs_dir: Path | None = None  # a sweep folder to browse and compare (GET /api/runs, /compare)

    def __post_init__(self):
        try:
            self.session_engine = Engine(self.session_engine)
        except ValueError:
            names = ", ".join(engine.value for engine in Engine)
            raise ValueError(f"session_engine must be one of {names}, not {self.session_engine!r}") from None

    def resolved_uploads_dir(self) -> Path | None:
        if self.uploads_dir is not None:
            return Path(self.uploads_dir)
        return Path(self.data_dir) / "uploads" if self.data_dir is not None else None
