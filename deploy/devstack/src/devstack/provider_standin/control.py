"""How each engine behaves right now, and `/_standin/control` to change it (process memory only).

Everything is deterministic: latency is fixed (plus jitter from a seeded generator), and the
error rate draws from a generator seeded by the control call, so a given seed and sequence of
calls always fails the same calls.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

EngineName = Literal["plant_id", "plantnet", "gbif"]
ENGINES: tuple[EngineName, ...] = ("plant_id", "plantnet", "gbif")
SLOW_DEFAULT_S = 5.0
HANG_DEFAULT_S = 300.0
DEFAULT_QUOTA = 10_000  # large: benchmarks must not run out unless told to


class Mode(StrEnum):
    OK = "ok"
    FAIL = "fail"  # every call answers the engine's 5xx (fail_status, default 500)
    SLOW = "slow"  # answer normally after delay_s (default 5 s)
    HANG = "hang"  # accept the request and never answer (until hang_s, default 300 s): the client's timeout fires
    QUOTA = "quota"  # out of credits / daily quota: HTTP 429 as the engine documents it
    DOWN = "down"  # drop the connection without an answer


@dataclass
class EngineState:
    """One engine's behaviour (set through the control API) and counters (read through it)."""

    mode: Mode = Mode.OK
    delay_s: float = 0.0  # latency added to every call, in any mode
    jitter_s: float = 0.0  # plus a seeded-random 0..jitter_s
    error_rate: float = 0.0  # probability that a call answers fail_status (seeded: the same sequence every time)
    seed: int = 0
    fail_next: int = 0  # the next n calls answer fail_status, then the mode applies again (a flapping engine)
    fail_status: int = 500
    hang_s: float = HANG_DEFAULT_S
    remaining: int = DEFAULT_QUOTA  # Plant.id credits / Pl@ntNet identifications left today
    quota: int = DEFAULT_QUOTA
    calls: int = 0  # counted requests received (identifications, GBIF matches), whatever the answer
    free_calls: int = 0  # uncounted requests (Plant.id usage_info)
    failures: int = 0  # calls answered with an injected 5xx (fail mode, error_rate, fail_next)
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False, compare=False)

    def public(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in PUBLIC_FIELDS}


PUBLIC_FIELDS = tuple(f.name for f in fields(EngineState) if f.name != "rng")


@dataclass
class StandinState:
    engines: dict[str, EngineState] = field(default_factory=lambda: {name: EngineState() for name in ENGINES})


@dataclass(frozen=True)
class Call:
    """What `before_answer` decided for one request."""

    engine: EngineState
    dropped: Response | None  # not None: return it at once (down, hang)
    fail: bool  # answer the engine's 5xx (fail_status)


class ControlRequest(BaseModel):
    """An engine's whole behaviour: fields left out return to their defaults, except the quota fields."""

    engine: EngineName
    mode: Mode = Mode.OK
    delay_s: float = Field(default=0.0, ge=0, le=600, description="Seconds to wait before answering, in any mode.")
    jitter_s: float = Field(default=0.0, ge=0, le=600, description="Plus up to this many seconds more, drawn from the seeded generator.")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Probability that a call answers fail_status; deterministic for a given seed.")
    seed: int = Field(default=0, description="Seed of the generator behind error_rate and jitter_s (reset on every control call).")
    fail_next: int = Field(default=0, ge=0, description="The next n calls answer fail_status, whatever the mode.")
    fail_status: int = Field(default=500, ge=500, le=599, description="Status of injected failures (500, 502, 503, 504).")
    hang_s: float = Field(default=HANG_DEFAULT_S, gt=0, le=3600, description="How long `hang` mode holds a request before dropping it.")
    remaining: int | None = Field(default=None, ge=0, description="Set the credits / daily quota left.")
    quota: int | None = Field(default=None, ge=0, description="Set the quota (Pl@ntNet's daily q=, Plant.id's credit limit); remaining becomes the quota unless given.")


def state_of(request: Request) -> StandinState:
    return request.app.state.standin


async def before_answer(request: Request, engine: EngineName, *, counted: bool = True) -> Call:
    """Count the call, wait, drop or hang as told, and decide whether this call fails; the engine code answers the rest."""
    state = state_of(request).engines[engine]
    if counted:
        state.calls += 1
    else:
        state.free_calls += 1
    delay = state.delay_s or (SLOW_DEFAULT_S if state.mode is Mode.SLOW else 0.0)
    if state.jitter_s:
        delay += state.rng.uniform(0, state.jitter_s)
    if delay:
        await asyncio.sleep(delay)
    if state.mode is Mode.DOWN:
        return Call(state, await drop_connection(request), fail=False)
    if state.mode is Mode.HANG:
        return Call(state, await hang(request, state.hang_s), fail=False)
    fail = state.mode is Mode.FAIL
    if state.fail_next > 0:
        state.fail_next -= 1
        fail = True
    elif state.error_rate and state.rng.random() < state.error_rate:
        fail = True
    if fail:
        state.failures += 1
    return Call(state, None, fail=fail)


async def hang(request: Request, seconds: float) -> Response:
    """Hold the request without a byte of answer until the client gives up (or `seconds` pass), then drop it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            break
        await asyncio.sleep(0.05)
    return await drop_connection(request)


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
    return {name: engine.public() for name, engine in state_of(request).engines.items()}


@router.post("/control")
async def set_control(body: ControlRequest, request: Request) -> dict[str, object]:
    """Make one engine answer normally, fail (always, flapping or at a seeded rate), slow down, hang, run out of quota or go down."""
    engine = state_of(request).engines[body.engine]
    for name in ("mode", "delay_s", "jitter_s", "error_rate", "seed", "fail_next", "fail_status", "hang_s"):
        setattr(engine, name, getattr(body, name))
    engine.rng = random.Random(body.seed)
    if body.quota is not None:  # a fresh quota: all of it left, unless remaining says otherwise
        engine.quota = engine.remaining = body.quota
    if body.remaining is not None:
        engine.remaining = body.remaining
    return engine.public()


@router.post("/reset")
async def reset(request: Request) -> dict[str, dict[str, object]]:
    """Every engine back to normal, full quota, counters at zero."""
    request.app.state.standin = StandinState()
    return await read_control(request)
