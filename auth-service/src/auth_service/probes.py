"""Dependency checks shared by `/readyz` and the public health route."""

from __future__ import annotations

from fastapi import Request
from plant_shared.health import Check
from sqlalchemy import text

from auth_service.keyring import NoSigningKeyError


def dependency_checks(request: Request) -> dict[str, Check]:
    """`database`: `SELECT 1` through the pool; `redis` and `denylist`: `PING`; `signing_key`: the
    key ring holds a signer. Each raises when its dependency is away."""
    state = request.app.state

    async def database() -> None:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis() -> None:
        await state.redis.ping()

    async def denylist() -> None:
        await state.denylist_redis.ping()

    async def signing_key() -> None:
        if not state.keyring.loaded:
            raise NoSigningKeyError("no signing key loaded yet")

    return {"database": database, "redis": redis, "denylist": denylist, "signing_key": signing_key}
