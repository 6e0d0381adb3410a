"""Dependency checks shared by `/readyz` and the public health route."""

from __future__ import annotations

from fastapi import Request
from plant_shared.health import Check
from sqlalchemy import text


def dependency_checks(request: Request) -> dict[str, Check]:
    """`database`: `SELECT 1` through the pool; `redis`: `PING`. Each raises when its server is away."""
    state = request.app.state

    async def database() -> None:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis() -> None:
        await state.redis.ping()

    return {"database": database, "redis": redis}
