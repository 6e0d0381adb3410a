"""Request ids: accept a sane incoming `X-Request-ID` (the edge sets one), else make one.

The id lives in a context variable so that log records and outgoing calls can carry it.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any, Awaitable, Callable

HEADER = "X-Request-ID"
_HEADER_BYTES = HEADER.lower().encode()
# Same rule as the edge plugin: short, and only characters that are safe in logs and headers.
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_request_id() -> str:
    return str(uuid.uuid4())


def accept_or_new(candidate: str | None) -> str:
    """Return `candidate` when it is a well-formed id, a fresh UUID otherwise."""
    if candidate and _VALID.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestIdMiddleware:
    """Pure ASGI middleware (FastAPI and Django alike) binding the request id for the request.

    The id is also stored in `scope["state"]["request_id"]` and echoed on the response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == _HEADER_BYTES:
                incoming = value.decode("latin-1")
                break
        rid = accept_or_new(incoming)
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER_BYTES]
                headers.append((_HEADER_BYTES, rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
