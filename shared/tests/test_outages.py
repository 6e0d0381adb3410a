"""A dependency that cannot be reached (PostgreSQL restarting) is answered 503 with the envelope, not 500."""

from __future__ import annotations

import socket

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from plant_shared.errors import error_body
from plant_shared.fastapi_support import instrument
from plant_shared.outages import is_dependency_outage


@pytest.fixture
def dead_port() -> int:
    """A port where nothing listens: one the OS just handed out and took back."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _app(dead_port: int) -> FastAPI:
    app = FastAPI()
    engine = create_async_engine(f"postgresql+psycopg://nobody:secret@127.0.0.1:{dead_port}/nothing")

    @app.get("/from-the-database")
    async def from_the_database() -> dict[str, int]:
        async with engine.connect() as conn:
            return {"one": (await conn.execute(text("SELECT 1"))).scalar_one()}

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("boom")

    return instrument(app, service="svc-under-test", ready_checks=lambda _request: {})


async def test_a_database_that_refuses_connections_is_a_503_with_the_envelope(dead_port: int) -> None:
    transport = httpx.ASGITransport(app=_app(dead_port), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        outage = await client.get("/from-the-database")
        bug = await client.get("/bug")

    assert outage.status_code == 503
    assert outage.json() == error_body("A dependency is unavailable; try again shortly.", "service_unavailable")
    assert outage.headers["retry-after"] == "5"
    assert bug.status_code == 500 and bug.json()["code"] == "internal_error"


def test_driver_errors_and_their_wrappers_are_outages_other_errors_are_not(dead_port: int) -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={dead_port} user=nobody dbname=nothing connect_timeout=2")
    try:
        raise ValueError("while saving") from refused.value
    except ValueError as wrapped:
        assert is_dependency_outage(wrapped)

    assert is_dependency_outage(refused.value)
    assert is_dependency_outage(ConnectionRefusedError())
    assert not is_dependency_outage(RuntimeError("boom"))
    assert not is_dependency_outage(psycopg.errors.UniqueViolation("duplicate key"))


def test_an_error_raised_from_none_is_judged_by_itself_not_by_what_it_replaced() -> None:
    # A service that turns a Redis outage into its own answer (`raise AuthUnavailable(...) from None`)
    # has decided what the client sees; the outage behind it must not override that.
    class AuthUnavailable(Exception):
        pass

    try:
        try:
            raise ConnectionRefusedError()
        except ConnectionRefusedError:
            raise AuthUnavailable() from None
    except AuthUnavailable as decided:
        assert not is_dependency_outage(decided)

    try:
        try:
            raise ConnectionRefusedError()
        except ConnectionRefusedError:
            raise RuntimeError("while saving")  # noqa: B904 - an implicit context is what is tested
    except RuntimeError as implicit:
        assert is_dependency_outage(implicit)
