"""ASGI middleware of the server: the upload size limit and the security headers.

Plain ASGI (no FastAPI), so both act before any route runs: an oversized
upload is refused before its body is read, and every response — 413s and
errors included — carries the headers.
"""

from __future__ import annotations

import contextlib
import json

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
