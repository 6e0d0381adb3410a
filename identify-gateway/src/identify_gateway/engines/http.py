"""One bounded HTTP exchange with an engine: a total time budget, a cap on the answer's size, and
transport errors turned into classified `EngineFailure`s.

Engine answers are untrusted input (OWASP API10): the body is read up to `max_bytes` only.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx

from identify_gateway.engines.base import EngineFailure, EngineTimeout

MAX_ANSWER_BYTES = 4 * 1024 * 1024
STANDIN_HEADER = "x-provider-standin"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def standin(self) -> bool:
        return self.headers.get(STANDIN_HEADER, "").lower() == "true"

    def json(self, engine: str) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise EngineFailure(engine, f"unreadable answer (HTTP {self.status}, not JSON)") from None


async def exchange(
    client: httpx.AsyncClient, method: str, url: str, *, engine: str, timeout_s: float, max_bytes: int = MAX_ANSWER_BYTES, **kwargs: Any
) -> Reply:
    """Send one request and read its answer within `timeout_s` seconds in total.

    Args:
        client: the engine's shared, keep-alive client (it also has per-phase timeouts).
        engine: the engine's name, for the errors.
        timeout_s: budget for the whole exchange (connect, upload, wait, download).
        max_bytes: larger answers are a failure.
        kwargs: passed to `client.stream` (params, headers, json, files, data...).

    Raises:
        EngineTimeout: the budget ran out.
        EngineFailure: connection refused or dropped, protocol error, oversized answer.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(method, url, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise EngineFailure(engine, f"answer larger than {max_bytes} bytes")
                return Reply(response.status_code, response.headers, bytes(body))
    except TimeoutError:
        raise EngineTimeout(engine, f"no answer within {timeout_s:g} s") from None
    except httpx.TimeoutException:
        raise EngineTimeout(engine, "timed out (client timeout)") from None
    except httpx.HTTPError as exc:
        raise EngineFailure(engine, f"transport error: {type(exc).__name__}") from None


def as_str(value: Any, limit: int = 300) -> str | None:
    """A string field of an untrusted answer, bounded; None for anything else."""
    if isinstance(value, str) and value:
        return value[:limit]
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_int(value: Any) -> int | None:
    """Integers, also when sent as digit strings (Pl@ntNet's `gbif.id`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def str_list(value: Any, limit: int = 10) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(s for s in (as_str(v, 120) for v in value[:limit]) if s)
