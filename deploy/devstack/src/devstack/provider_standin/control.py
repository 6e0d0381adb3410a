"""How each engine behaves right now, and `/_standin/control` to change it (process memory only)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

EngineName = Literal["plant_id", "plantnet"]
SLOW_DEFAULT_S = 5.0
DEFAULT_QUOTA = 10_000  # large: benchmarks must not run out unless told to


class Mode(StrEnum):
    OK = "ok"
    FAIL = "fail"  # HTTP 500 with the engine's error body
    SLOW = "slow"  # answer normally after delay_s (default 5 s)
    QUOTA = "quota"  # out of credits / daily quota: HTTP 429 as the engine documents it
    DOWN = "down"  # drop the connection without an answer


@dataclass
class EngineState:
    mode: Mode = Mode.OK
    delay_s: float = 0.0
    remaining: int = DEFAULT_QUOTA  # Plant.id credits / Pl@ntNet identifications left today
    quota: int = DEFAULT_QUOTA
    calls: int = 0  # identification requests received, whatever the answer


@dataclass
class StandinState:
    engines: dict[str, EngineState] = field(default_factory=lambda: {"plant_id": EngineState(), "plantnet": EngineState()})


class ControlRequest(BaseModel):
    engine: EngineName
    mode: Mode = Mode.OK
    delay_s: float = Field(default=0.0, ge=0, le=600, description="Seconds to wait before answering, in any mode.")
    remaining: int | None = Field(default=None, ge=0, description="Set the credits / daily quota left.")


def state_of(request: Request) -> StandinState:
    return request.app.state.standin


async def before_answer(request: Request, engine: EngineName) -> tuple[EngineState, Response | None]:
    """Count the call, wait, and drop the connection in `down` mode; the engine code answers the rest."""
    state = state_of(request).engines[engine]
    state.calls += 1
    delay = state.delay_s or (SLOW_DEFAULT_S if state.mode is Mode.SLOW else 0.0)
    if delay:
        await asyncio.sleep(delay)
    if state.mode is Mode.DOWN:
        return state, await drop_connection(request)
    return state, None


async def drop_connection(request: Request) -> Response:
    """Close the TCP connection without a byte of answer, as a dead upstream does.

    Under uvicorn the transport is reachable; elsewhere (in-process test clients) the closest thing
    is a bare 503, which is what a load balancer in front of a dead engine answers.
    """
    transport = getattr(request.state, "transport", None)
    if transport is None:
        return PlainTextResponse("Service Unavailable", status_code=503)
    transport.abort()
    await asyncio.sleep(0)  # let the server see the connection go before we return
    return Response(status_code=503)  # never sent: the server drops writes to a closed connection


router = APIRouter(prefix="/_standin", tags=["stand-in control"])


@router.get("/control")
async def read_control(request: Request) -> dict[str, dict[str, object]]:
    """Each engine's mode, delay, quota left and number of calls received."""
    return {name: asdict(engine) for name, engine in state_of(request).engines.items()}


@router.post("/control")
async def set_control(body: ControlRequest, request: Request) -> dict[str, object]:
    """Make one engine answer normally, fail, slow down, run out of quota or go down."""
    engine = state_of(request).engines[body.engine]
    engine.mode, engine.delay_s = body.mode, body.delay_s
    if body.remaining is not None:
        engine.remaining = body.remaining
    return asdict(engine)


@router.post("/reset")
async def reset(request: Request) -> dict[str, dict[str, object]]:
    """Every engine back to normal, full quota, call counters at zero."""
    request.app.state.standin = StandinState()
    return await read_control(request)
