"""Connection hygiene below the app: a cap per client address, header and body read timeouts.

uvicorn covers part of it: ``timeout_keep_alive`` closes a keep-alive connection
that stays idle after a response, ``limit_concurrency`` answers 503 past a total.
What it leaves open: a connection that never sends a request is never closed, a
request whose headers or body trickle in (or stop) holds its socket for ever,
headers have no size limit (httptools), and a few sockets from one address can
take every slot of ``limit_concurrency`` (issue 11, problem 2).

:func:`uvicorn_protocols` returns the HTTP and websocket protocol classes for
``uvicorn.Config(http=..., ws=...)``: uvicorn's own (httptools or h11,
websockets) with these additions (``Settings`` fields, ``polytope-lens serve``
flags):

- ``max_connections_per_client``: connections from one address at once,
  websockets included; one more is answered 503 and closed before it takes a
  slot of ``max_connections``;
- ``header_timeout_s``: the request line and headers must be complete within
  this many seconds of the connection opening (or of the previous response);
  else the connection is closed (408);
- ``body_timeout_s``: while a request body is read, the longest pause between
  two of its pieces (the app's own slowness does not count); else the
  connection is closed and the route sees a disconnect;
- ``max_header_bytes``: request line and headers together; more get 431.

The websocket class also ends a refused handshake (403 with words) quietly:
uvicorn would otherwise log an ERROR "returned without completing handshake"
for every refused origin or host.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("polytope_lens.server")

IDLE, BODY, APP, UPGRADED = "idle", "body", "app", "upgraded"


def _response(status: str, words: str, extra: str = "") -> bytes:
    body = words.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + body


class ConnectionGuard:
    """Counts open connections per client address; shared by all protocol instances of a server."""

    def __init__(self, per_client: int | None, header_timeout_s: float | None, body_timeout_s: float | None,
                 max_header_bytes: int | None):
        self.per_client = per_client
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.max_header_bytes = max_header_bytes
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()  # one event loop uses it, but be safe with several servers
        self.refused = 0
        self.timed_out = 0

    def admit(self, host: str | None) -> bool:
        with self._lock:
            n = self._counts.get(host, 0)
            if self.per_client is not None and host is not None and n >= self.per_client:
                self.refused += 1
                return False
            self._counts[host] = n + 1
            return True

    def release(self, host: str | None) -> None:
        with self._lock:
            n = self._counts.get(host, 0) - 1
            if n > 0:
                self._counts[host] = n
            else:
                self._counts.pop(host, None)

    def open_from(self, host: str | None) -> int:
        with self._lock:
            return self._counts.get(host, 0)


def _peer_host(transport) -> str | None:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    return None  # a unix socket: not capped


def guarded_http_protocol(base: type, guard: ConnectionGuard) -> type:
    """``base`` (uvicorn's HttpToolsProtocol or H11Protocol) with the guard's cap and timeouts."""

    class GuardedHTTPProtocol(base):
        _guard = guard

        def connection_made(self, transport) -> None:
            self._host = _peer_host(transport)
            self._refused = not guard.admit(self._host)
            self._holds_slot = not self._refused
            self._timer = None
            if self._refused:
                self.transport = transport
                transport.write(_response(
                    "503 Service Unavailable",
                    "too many connections from this address at once; close some and try again",
                    "retry-after: 5\r\n"))
                transport.close()
                return
            super().connection_made(transport)
            self._seen_cycle = None
            self._enter(IDLE)

        def connection_lost(self, exc) -> None:
            self._cancel_timer()
            if self._refused:
                return
            try:
                super().connection_lost(exc)
            finally:
                self._release()

        def _release(self) -> None:
            if self._holds_slot:
                self._holds_slot = False
                guard.release(self._host)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            now = time.monotonic()
            self._last_data = now
            if self._phase == IDLE:
                self._header_bytes += len(data)
            super().data_received(data)
            if self._phase == UPGRADED or self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is not None and cycle is not self._seen_cycle:  # a new request's headers are complete
                self._seen_cycle = cycle
                self._enter(BODY if cycle.more_body and not cycle.response_complete else APP)
            elif self._phase == BODY and (cycle is None or not cycle.more_body):
                self._enter(APP)
            elif self._phase == IDLE and guard.max_header_bytes and self._header_bytes > guard.max_header_bytes:
                self._close(
                    "431 Request Header Fields Too Large",
                    f"the request line and headers passed {guard.max_header_bytes:,} bytes",
                )

        def on_response_complete(self) -> None:
            super().on_response_complete()
            cycle = self.cycle
            if self._phase != UPGRADED and (cycle is None or cycle.response_complete):
                self._enter(IDLE)

        def handle_websocket_upgrade(self, *args) -> None:
            self._cancel_timer()
            self._phase = UPGRADED
            super().handle_websocket_upgrade(*args)
            ws = self.transport.get_protocol()
            if ws is not self and self._holds_slot:  # the websocket keeps this connection's slot
                self._holds_slot = False
                if hasattr(ws, "_adopt_slot"):
                    ws._adopt_slot(guard, self._host)
                else:  # a websocket class without the hook: release now rather than leak the slot
                    guard.release(self._host)

        # -- timers ------------------------------------------------------------------
        def _enter(self, phase: str) -> None:
            self._phase = phase
            self._phase_started = self._last_data = time.monotonic()
            self._header_bytes = 0
            self._schedule()

        def _deadline(self) -> float | None:
            if self._phase == IDLE and guard.header_timeout_s:
                return self._phase_started + guard.header_timeout_s
            if self._phase == BODY and guard.body_timeout_s:
                return self._last_data + guard.body_timeout_s
            return None

        def _schedule(self) -> None:
            self._cancel_timer()
            deadline = self._deadline()
            if deadline is not None:
                self._timer = self.loop.call_at(self.loop.time() + max(0.0, deadline - time.monotonic()),
                                                self._check)

        def _cancel_timer(self) -> None:
            timer = getattr(self, "_timer", None)
            if timer is not None:
                timer.cancel()
                self._timer = None

        def _check(self) -> None:
            self._timer = None
            if self.transport is None or self.transport.is_closing() or self._phase in (APP, UPGRADED):
                return
            if self._phase == BODY and self.flow is not None and self.flow.read_paused:
                self._last_data = time.monotonic()  # the app is not reading: not the client's pause
            deadline = self._deadline()
            if deadline is None:
                return
            if time.monotonic() < deadline:
                self._schedule()
                return
            guard.timed_out += 1
            if self._phase == IDLE:
                self._close("408 Request Timeout",
                            f"the request did not arrive within {guard.header_timeout_s:g} s")
            else:
                log.info("closed a connection from %s: its request body stalled for %g s",
                         self._host, guard.body_timeout_s)
                self.transport.close()  # the route's receive() sees a disconnect

        def _close(self, status: str, words: str) -> None:
            self._cancel_timer()
            self.transport.write(_response(status, words))
            self.transport.close()

    GuardedHTTPProtocol.__name__ = f"Guarded{base.__name__}"
    GuardedHTTPProtocol.__qualname__ = GuardedHTTPProtocol.__name__
    return GuardedHTTPProtocol


def guarded_ws_protocol(base: type) -> type:
    """``base`` (uvicorn's websocket protocol) that keeps the connection slot it adopted from the HTTP
    protocol until it closes, and ends a denial response (``websocket.http.response``) quietly."""

    class GuardedWSProtocol(base):
        _slot = None

        def _adopt_slot(self, guard: ConnectionGuard, host: str | None) -> None:
            self._slot = (guard, host)

        def connection_lost(self, exc) -> None:
            try:
                super().connection_lost(exc)
            finally:
                slot, self._slot = self._slot, None
                if slot is not None:
                    slot[0].release(slot[1])

        async def send(self, message) -> None:
            await super().send(message)
            if message.get("type") == "websocket.http.response.body" and not message.get("more_body", False):
                # The refusal is the complete answer to this handshake; without this uvicorn logs
                # "ASGI callable returned without completing handshake" at ERROR for each one.
                if hasattr(self, "handshake_complete"):
                    self.handshake_complete = True

    GuardedWSProtocol.__name__ = f"Guarded{base.__name__}"
    GuardedWSProtocol.__qualname__ = GuardedWSProtocol.__name__
    return GuardedWSProtocol


def uvicorn_protocols(per_client: int | None, header_timeout_s: float | None, body_timeout_s: float | None,
                      max_header_bytes: int | None, http: str = "auto", ws: str = "auto"):
    """``(http_class, ws_class, guard)`` for uvicorn.Config(http=..., ws=...); ws_class is None when
    uvicorn has no websocket library (then pass uvicorn's own setting)."""
    from uvicorn.config import HTTP_PROTOCOLS, WS_PROTOCOLS
    from uvicorn.importer import import_from_string

    guard = ConnectionGuard(per_client, header_timeout_s, body_timeout_s, max_header_bytes)
    http_base = import_from_string(HTTP_PROTOCOLS.get(http, http))
    ws_name = WS_PROTOCOLS.get(ws, ws)
    ws_base = import_from_string(ws_name) if ws_name else None
    return (
        guarded_http_protocol(http_base, guard),
        guarded_ws_protocol(ws_base) if ws_base is not None else None,
        guard,
    )
