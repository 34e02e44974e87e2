"""The websocket: one live session per socket, which outlives a dropped socket for a while.

This module only moves messages between the socket and the session's outbox, hands a session
back to its page's new socket (``/ws?resume=TOKEN``: registry.py keeps it meanwhile),
and enforces the server's limits (config.Settings): the session cap ("busy"),
the origin check, admission of each command (the live cost of a run, the
server's memory budget), a send timeout for clients that stop reading, the
bounded command queue ("slow down"). Training and drawing happen in the session
(sessions/local.py), opened on the server's engine by the session factory (sessions/factory.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from ..memory import give_back_memory
from ..protocol import (BinaryMessage, Configure, ErrorMessage, LiveLimits, ProtocolError, Received, ResumedMessage,
                        View, check_live_cost, parse_command)
from ..budget import MemoryBudget
from ..networkstore import NetworkStore, UnknownNetwork
from ..registry import BudgetDep, NetworksDep, RegistryDep, SessionFactoryDep, SettingsDep, StoreDep
from ..sessions.contract import Session
from ..sessions.outbox import ServerOutbox

log = logging.getLogger("polytope_lens.web")
router = APIRouter()


class SlowClient(Exception):
    """The client did not take a message within Settings.send_timeout_s."""


TAKEN_OVER = 4001  # close code: the session went on to a newer socket of its page (?resume=TOKEN)
FRAME_WINDOW = 4  # frames a client that acknowledges them (?acks=1) may hold unacknowledged


class SlowClient(Exception):
    """The client did not take a message within Settings.send_timeout_s."""


class FrameWindow:
    """Frames sent and not yet acknowledged, for a client that says ``received`` for each frame it
    took (``/ws?acks=1``: the page). Sending waits while ``size`` are out, the newest frame waiting in
    the outbox (latest-wins): a page that draws slower than the server trains is sent fewer, newer
    frames, not a backlog in the network's buffers that it would show seconds late. Without acks
    (``size`` None) the socket's own buffers are the only bound."""

    def __init__(self, size: int | None):
        self.size = size
        self.out = 0

    def open(self) -> bool:
        return self.size is None or self.out < self.size

    def sent(self) -> None:
        self.out += 1

    def received(self) -> None:
        self.out = max(0, self.out - 1)


@router.websocket("/ws")
async def websocket(ws: WebSocket, settings: SettingsDep, registry: RegistryDep, store: StoreDep, budget: BudgetDep,
                    sessions: SessionFactoryDep, networks: NetworksDep):
    if not _origin_allowed(ws, settings.allowed_origins):
        log.info("refused a websocket from the page of %r", ws.headers.get("origin", "")[:100])
        await _deny(ws, "this page's origin may not open a session here (see allowed_origins)")
        return
    await ws.accept()
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def notify() -> None:
        with contextlib.suppress(RuntimeError):  # loop closed at shutdown
            loop.call_soon_threadsafe(wake.set)

    async def end(session: Session) -> None:
        budget.release(session.token)
        await registry.close(session, _close_session)

    # A page that lost its socket asks for its session back; one that is gone gets a new session.
    resumed = await registry.take_back(ws.query_params.get("resume") or "")
    if resumed is not None:
        session, outbox = resumed
        outbox.rebind(notify)
        wake.set()  # what the session said while its page was away goes out after the "resumed"
        try:
            await ws.send_text(ResumedMessage(token=session.token).to_json())
        except Exception:  # gone again at once: keep waiting for the page
            if not registry.set_aside(session, outbox, end):
                await end(session)
            return
        log.info("session %s resumed on a new socket", session.token[:6])
    elif not await registry.make_room():
        busy = ErrorMessage(
            message=f"the server is busy: {settings.max_sessions} sessions are open already (the limit); "
            "try again in a minute",
            field="busy",
        )
        with contextlib.suppress(Exception):  # the client may already be gone
            await ws.send_text(busy.to_json())
            await ws.close(code=1013, reason="busy: too many sessions")
        return
    else:
        outbox = ServerOutbox(notify=notify)
        session = await asyncio.to_thread(sessions.open, store.target, outbox)  # may wait for a new process
        registry.add(session)
    let_go = registry.attach(session)
    window = FrameWindow(FRAME_WINDOW if ws.query_params.get("acks") == "1" else None)
    receiver = asyncio.create_task(_receive_loop(ws, session, outbox, settings.live_limits, budget, networks,
                                                 window, wake))
    sender = asyncio.create_task(_send_loop(ws, outbox, wake, settings.send_timeout_s, window))
    taken = asyncio.create_task(let_go.wait())
    try:
        await asyncio.wait({receiver, sender, taken}, return_when=asyncio.FIRST_COMPLETED)
        if sender.done() and not receiver.done():  # a failed send: let the receiver see how it closed
            await asyncio.wait({receiver}, timeout=0.5)
    finally:
        for task in (receiver, sender, taken):
            task.cancel()
        await asyncio.gather(receiver, sender, taken, return_exceptions=True)
        # A page that closed its socket itself is done with the session; one whose socket dropped
        # may come back for it (Settings.resume_grace_s), meanwhile it goes on.
        if _closed_by_client(receiver) or not registry.set_aside(session, outbox, end):
            await end(session)
    if sender.done() and not sender.cancelled() and isinstance(sender.exception(), SlowClient):
        log.warning("a session's client stopped reading: %s", sender.exception())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=1008, reason="the client stopped reading"), 0.5)
    elif let_go.is_set():
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=TAKEN_OVER, reason="the session went on on a newer connection"), 0.5)


def _closed_by_client(receiver: asyncio.Task) -> bool:
    """The client closed the socket itself (a close frame, 1000 or 1001: a page closed or left),
    not a drop (1006: no close frame; 1011: no pong; a send that timed out)."""
    return (receiver.done() and not receiver.cancelled() and receiver.exception() is None
            and receiver.result() in (1000, 1001))


def _settings_after(command, config, resolution: int) -> tuple | None:
    """(config, resolution) a command leaves the session with, when it changes its cost."""
    if isinstance(command, Configure):
        return command.config, resolution
    if isinstance(command, View) and command.resolution is not None:
        return (config, command.resolution) if config is not None else (None, command.resolution)
    return None


async def _deny(ws: WebSocket, detail: str) -> None:
    try:
        await ws.send_denial_response(JSONResponse({"detail": detail}, status_code=403))
    except RuntimeError:  # a server without the denial-response extension
        await ws.close(code=1008, reason="origin not allowed")


async def _receive_loop(ws: WebSocket, session: Session, outbox: ServerOutbox, limits: LiveLimits,
                        budget: MemoryBudget, networks: NetworkStore, window: FrameWindow,
                        wake: asyncio.Event) -> int | None:
    """Parse client messages into commands; answer bad ones with an error. Ends at disconnect,
    with its close code.

    Every message gets its reply (an error, "slow down", or the command's own effect), but
    ``received``, which only opens the send loop's window; while the client has not taken
    ``outbox.high_water`` replies yet, no more messages are read.
    """
    # the session's network and grid as they will be once it gets to the next command: what the
    # admission checks (live cost, memory budget) judge
    config, resolution = session.config(), session.view.resolution
    while True:
        while outbox.backlog() >= outbox.high_water:  # replies are never dropped: wait for the sender
            await asyncio.sleep(0.005)
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return message.get("code")
        text = message.get("text")
        try:
            command = parse_command(text if text is not None else (message.get("bytes") or b""), limits)
            if isinstance(command, Received):  # not a command of the session: the send loop's window
                window.received()
                wake.set()
                continue
            if isinstance(command, Configure) and command.network is not None:
                command = _with_network(command, networks)
            wanted = _settings_after(command, config, resolution)
            if wanted and wanted[0] is not None:  # admission: a run too heavy for a live view is refused here
                check_live_cost(*wanted, limits)
            reservation = budget.reserve(session.token, *wanted) if wanted else None
        except ProtocolError as exc:
            outbox.put_message(ErrorMessage(message=str(exc), field=exc.field))
            continue
        if wanted:
            config = wanted[0] if isinstance(command, Configure) else config
            resolution = wanted[1]
        if not session.submit(command):
            if reservation is not None:
                reservation.cancel()
            outbox.put_message(ErrorMessage(
                message=f"'{command.type}' ignored: too many commands are waiting; "
                "slow down (the session is still working on earlier ones)",
            ))


def _with_network(command: Configure, networks: NetworkStore) -> Configure:
    """A configure naming an opened network, with that network attached (it travels to the session)."""
    try:
        return command.opening(networks.get(command.network))
    except UnknownNetwork as exc:
        raise ProtocolError(f"network: {exc}", field="network") from None


async def _send_loop(ws: WebSocket, outbox: ServerOutbox, wake: asyncio.Event, timeout: float,
                     window: FrameWindow) -> None:
    """Forward the outbox to the socket: messages in order, then the latest frame.

    Returns when the client is gone; raises SlowClient when one send takes longer than
    ``timeout`` (a client that stopped reading, or a stalled network). Memory stays
    bounded meanwhile: the session keeps at most one frame and a short message queue.
    """
    try:
        while True:
            await wake.wait()
            wake.clear()
            messages, frame = outbox.take(with_frame=window.open())  # else the frame waits for an ack
            for message in messages:
                if isinstance(message, BinaryMessage):  # a surface: binary, in its place among the others
                    await _timed(ws.send_bytes(message.data), timeout)
                else:
                    await _timed(ws.send_text(message.to_json()), timeout)
            if frame is not None:
                window.sent()
                await _timed(ws.send_bytes(frame), timeout)
    except (RuntimeError, ConnectionError, OSError):
        return  # disconnected (uvicorn's ClientDisconnected is an OSError); the receive loop sees it too
    except Exception as exc:  # starlette's WebSocketDisconnect and friends
        if isinstance(exc, SlowClient):
            raise
        return


async def _timed(send, timeout: float) -> None:
    try:
        await asyncio.wait_for(send, timeout)
    except asyncio.TimeoutError:
        raise SlowClient(f"a message was not taken within {timeout:g} s") from None


def _close_session(session: Session) -> bool:
    """Stop a session's worker and give its memory back to the system (runs off the event loop)."""
    finished = session.close(timeout=2.0)
    give_back_memory()
    return finished


def _origin_allowed(ws: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin; only pages served by this server (or allowed_origins) may open a session.
    Clients that are not browsers send no Origin and are let in."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    host = ws.headers.get("host", "")
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()
