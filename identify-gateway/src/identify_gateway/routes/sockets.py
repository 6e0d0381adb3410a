"""WebSockets: a job's progress (`/ws/v1/identifications/{id}`) and the admins' live status (`/ws/v1/status`).

Authentication (browsers cannot set headers on a WebSocket): the access token travels either as
the subprotocol pair `Sec-WebSocket-Protocol: bearer, <token>` (preferred: it stays out of URLs
and access logs; the server answers with the `bearer` subprotocol) or as `?access_token=<token>`.
The handshake is always accepted, then closed with an application code when refused:

| code | meaning |
|------|---------|
| 4401 | no token, or an invalid / expired / revoked one |
| 4403 | not an admin, for the status socket |
| 4404 | no such job, or not the caller's (indistinguishable, like REST's 404) |
| 1013 | try again later (tokens or the job store cannot be read right now) |
| 1000 | normal end: the job's terminal event was sent |

Job protocol: every message is one JSON event with `event`, `job_id`, `seq` (1, 2, 3… per job),
`at`. A listener first receives the job's stored events in order (so a late one first receives
the current state: `queued`, `processing`, each engine's outcome, …), then live ones; a terminal
event (`completed`/`failed`, with the results) ends the socket. Gaps (a missed pub/sub message)
and silences longer than `GATEWAY_WS_RESYNC_S` are filled from the stored events: nothing is lost
and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from identify_gateway.access import is_admin, user_of
from identify_gateway.jobs.events import TERMINAL_EVENTS
from identify_gateway.jobs.status import status_snapshot
from identify_gateway.jobs.views import outcome_fields
from identify_gateway.metrics import JOB_SOCKETS
from identify_gateway.models import TERMINAL
from identify_gateway.resilience._support import dumps
from identify_gateway.resources import Resources
from plant_shared.tokens import AUTH_UNAVAILABLE, Claims, TokenError

router = APIRouter()
logger = logging.getLogger(__name__)

BEARER = "bearer"
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, TRY_AGAIN = 4401, 4403, 4404, 1013
SOCKET_DB_READS = 8  # database reads of job sockets in flight at once per process
DB_ERRORS = (SQLAlchemyError, OSError)


def _db_gate(websocket: WebSocket) -> asyncio.Semaphore:
    """Bounds the sockets' database reads in this process, so that hundreds of sockets opening at
    once queue for a few connections instead of exhausting the pool the HTTP routes need."""
    state = websocket.app.state
    gate = getattr(state, "socket_db_gate", None)
    if gate is None:
        gate = state.socket_db_gate = asyncio.Semaphore(SOCKET_DB_READS)
    return gate


def socket_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer with) from `Sec-WebSocket-Protocol: bearer, <token>` or `?access_token=`."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    answer = BEARER if any(p.lower() == BEARER for p in offered) else None
    if len(offered) >= 2 and offered[0].lower() == BEARER:
        return offered[1], answer
    return websocket.query_params.get("access_token") or None, answer


async def authenticate(websocket: WebSocket, resources: Resources) -> Claims | None:
    """Accept the handshake and verify the token; on failure the socket is closed and None returned."""
    token, subprotocol = socket_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    if token is None:
        await websocket.close(UNAUTHENTICATED, "An access token is required.")
        return None
    try:
        return await resources.verifier.verify(token)
    except TokenError as exc:
        if exc.code == AUTH_UNAVAILABLE:
            await websocket.close(TRY_AGAIN, "Tokens cannot be checked right now.")
        else:
            await websocket.close(UNAUTHENTICATED, "The access token is not valid.")
        return None


async def _wait_disconnect(websocket: WebSocket) -> None:
    """Return when the client goes away (client messages are ignored)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(dumps(message).decode())


async def _close(websocket: WebSocket, code: int = 1000) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code)


@router.websocket("/ws/v1/identifications/{job_id}")
async def job_events(websocket: WebSocket, job_id: str) -> None:
    resources: Resources = websocket.app.resources
    claims = await authenticate(websocket, resources)
    if claims is None:
        return
    user_id = user_of(claims)
    try:
        job = uuid.UUID(job_id)
    except ValueError:
        await websocket.close(NOT_FOUND, "No such identification job.")
        return
    try:
        async with _db_gate(websocket):
            owner = await resources.jobs.owner(job)
    except DB_ERRORS:
        await websocket.close(TRY_AGAIN, "Try again in a moment.")
        return
    # Someone else's job is answered exactly like a missing one (as REST's 404 does): a close
    # code must not confirm that a guessed id exists.
    if owner is None or user_id is None or owner != user_id:
        await websocket.close(NOT_FOUND, "No such identification job.")
        return
    JOB_SOCKETS.inc()
    try:
        async with resources.hub.listen(job) as queue:
            await _stream(websocket, resources, job, queue)
    except DB_ERRORS:
        await _close(websocket, TRY_AGAIN)  # the client reconnects and gets everything it missed
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send
    finally:
        JOB_SOCKETS.dec()
        await _close(websocket)


async def _stream(websocket: WebSocket, resources: Resources, job_id: uuid.UUID, queue: asyncio.Queue[dict[str, Any]]) -> None:
    last = 0

    async def catch_up() -> bool:
        """Send the stored events after `last`; True when the job is over (terminal event sent)."""
        nonlocal last
        async with _db_gate(websocket):
            events, status = await resources.jobs.events_after(job_id, last)
            view = await resources.jobs.load(job_id) if any(e.get("event") in TERMINAL_EVENTS for e in events) else None
        if status is None:
            await websocket.close(NOT_FOUND, "The identification job was deleted.")
            return True
        for stored in events:
            message = dict(stored)
            if message.get("event") in TERMINAL_EVENTS and view is not None:
                message.update(outcome_fields(view))
            await _send(websocket, message)
            last = int(message["seq"])
        return status in TERMINAL  # the terminal event is stored with the status change: it has been sent now

    gone = asyncio.create_task(_wait_disconnect(websocket))
    try:
        if await catch_up():
            return
        while True:
            get = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({get, gone}, timeout=resources.settings.ws_resync_s, return_when=asyncio.FIRST_COMPLETED)
            if gone in done:
                get.cancel()
                return
            if get not in done:  # quiet for a while: make sure nothing was missed
                get.cancel()
                if await catch_up():
                    return
                continue
            message = get.result()
            seq = int(message.get("seq") or 0)
            if seq <= last:
                continue  # already sent (it was in the stored events)
            if seq > last + 1:  # a message went missing: the stored events have it
                if await catch_up():
                    return
                continue
            await _send(websocket, message)
            last = seq
            if message.get("event") in TERMINAL_EVENTS:
                return
    finally:
        gone.cancel()


@router.websocket("/ws/v1/status")
async def status_events(websocket: WebSocket) -> None:
    """The status page's feed: one snapshot every `GATEWAY_STATUS_INTERVAL_S`, admins only."""
    resources: Resources = websocket.app.resources
    claims = await authenticate(websocket, resources)
    if claims is None:
        return
    if not is_admin(claims, resources.settings):
        await websocket.close(FORBIDDEN, "The status page is for administrators.")
        return
    gone = asyncio.create_task(_wait_disconnect(websocket))
    try:
        while not gone.done():
            await _send(websocket, {"event": "status", **await status_snapshot(resources)})
            await asyncio.wait({gone}, timeout=resources.settings.status_interval_s)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        gone.cancel()
        await _close(websocket)
