"""Readiness probing: run named async checks concurrently, each bounded by a timeout."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

Check = Callable[[], Awaitable[object]]


async def run_checks(checks: dict[str, Check], *, timeout: float = 2.0) -> tuple[bool, dict[str, dict[str, object]]]:
    """Run every check; a check passes when it returns without raising within `timeout` seconds.

    Returns:
        (all passed, {name: {"ok": bool, "error": str (when failed)}}).
    """

    async def one(check: Check) -> dict[str, object]:
        try:
            await asyncio.wait_for(check(), timeout)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; say which
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True}

    names = list(checks)
    results = await asyncio.gather(*(one(checks[name]) for name in names))
    report = dict(zip(names, results))
    return all(r["ok"] for r in results), report
