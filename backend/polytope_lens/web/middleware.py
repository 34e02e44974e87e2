"""ASGI middleware of the server: the upload size limit, the security headers, the host and origin check.

Plain ASGI (no FastAPI), so both act before any route runs: an oversized
upload is refused before its body is read, and every response — 413s and
errors included — carries the headers.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Iterable
from urllib.parse import urlsplit

from fastapi import HTTPException

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file, on top of max_upload_bytes

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from a CDN with an inline start-up script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}


def too_large(limit: int, size: int | None = None) -> str:
    mib = limit / (1024 * 1024)
    what = f"the file is {size:,} bytes" if size else "the file is too large"
    return f"{what}; the upload limit is {limit:,} bytes ({mib:.3g} MiB)"


async def _send_problem(send, status: int, detail: str, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class UploadLimit:
    """ASGI middleware: 413 for an upload body past the limit, without reading it into memory.

    A declared Content-Length past the limit is answered at once, before any of the
    body is read (uvicorn discards what the client still sends). Chunked bodies are
    counted as they stream and cut off when the count passes the limit.
    """

    def __init__(self, app, path: str, limit: int):
        self.app = app
        self.path = path
        self.limit = limit
        self.body_limit = limit + MULTIPART_OVERHEAD

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    declared = int(value)
        if declared is not None and declared > self.body_limit:
            await _send_problem(send, 413, too_large(self.limit, declared))
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.body_limit:
                    raise HTTPException(413, too_large(self.limit))
            return message

        await self.app(scope, limited_receive, send)


class SecurityHeaders:
    """ASGI middleware adding the headers a careful deployment expects to every HTTP response."""

    def __init__(self, app):
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.docs_headers = [
            (k, DOCS_CSP.encode()) if k == b"content-security-policy" else (k, v) for k, v in self.headers
        ]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope.get("path") in DOCS_PATHS else self.headers

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                added = [h for h in extra if h[0] not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- which sites may use this server ---------------------------------------------------------------
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_host_log = logging.getLogger("polytope_lens.server")


def host_name(value: str) -> str:
    """The name part of a Host header or an address, lowercase: 'LocalHost:8000' -> 'localhost',
    '[::1]:8000' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def default_allowed_hosts(bound_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The loopback names, the bound host (unless it is a wildcard address) and ``extra``."""
    names = list(LOOPBACK_HOSTS)
    if bound_host and bound_host not in ("0.0.0.0", "::", ""):
        names.append(host_name(bound_host))
    names.extend(h if h == "*" else host_name(h) for h in extra)
    return tuple(dict.fromkeys(names))


def same_origin(origin: str, host: str | None, allowed_origins: Iterable[str] = ()) -> bool:
    """True when ``origin`` (a browser's Origin header) is this server's own page (its
    host:port is the Host the request was sent to) or one of ``allowed_origins`` ("*": any)."""
    allowed = tuple(allowed_origins)
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.strip().lower()


class HostCheck:
    """ASGI middleware: 403 for a request (REST or websocket) whose ``Host`` is not a name of this
    server, so a page of another site cannot reach it through DNS rebinding; and 403 for a
    state-changing request (POST, PUT, PATCH, DELETE) that a page of another site sends (its
    ``Origin`` is neither this server's nor one of ``allowed_origins``). Clients that send no
    Host or no Origin (scripts, curl) are not browsers on another site and pass.
    """

    def __init__(self, app, allowed_hosts: Iterable[str], allowed_origins: Iterable[str] = ()):
        self.app = app
        hosts = tuple(allowed_hosts)
        self.any_host = "*" in hosts
        self.hosts = frozenset(host_name(h) for h in hosts if h != "*")
        self.allowed_origins = tuple(allowed_origins)

    def host_allowed(self, host: str | None) -> bool:
        return host is None or self.any_host or host_name(host) in self.hosts

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {}
        for name, value in scope.get("headers", ()):
            if name in (b"host", b"origin") and name not in headers:
                headers[name] = value.decode("latin-1")
        host, origin = headers.get(b"host"), headers.get(b"origin")
        if not self.host_allowed(host):
            _host_log.info("refused a request for the unknown host %r from %s", host[:100], _client(scope))
            await _refuse(scope, send, f"this server does not answer to the host name {host[:100]!r} "
                                       "(see --allow-host)")
            return
        if (kind == "http" and origin is not None and scope.get("method", "GET") not in SAFE_METHODS
                and not same_origin(origin, host, self.allowed_origins)):
            _host_log.info("refused a %s from the page of %r", scope.get("method"), origin[:100])
            await _refuse(scope, send, f"a page of another site ({origin[:100]}) may not change anything here "
                                       "(see --allow-origin)")
            return
        await self.app(scope, receive, send)


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}" if client else "?"


async def _refuse(scope, send, detail: str) -> None:
    if scope["type"] == "http":
        await _send_problem(send, 403, detail)
        return
    body = json.dumps({"detail": detail}).encode()
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:  # pragma: no cover - a server without the denial-response extension
        await send({"type": "websocket.close", "code": 1008})
