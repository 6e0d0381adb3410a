"""Redis dying in the middle of an identification, and coming back: the gateway keeps answering
without cache and lock, breakers fall back to local state, and everything resumes when Redis returns.

Redis is reached through a small TCP proxy this test can cut and restore (the real Redis of the
stack stays up for everyone else).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import make_url


class RedisProxy:
    """A TCP proxy in front of the real Redis: `cut()` drops every connection and refuses new ones."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()  # the same port again


@pytest.fixture
async def proxy() -> AsyncIterator[RedisProxy]:
    url = make_url(os.environ["GATEWAY_REDIS_URL"].replace("redis://", "postgresql://"))  # only to parse host and port
    proxy = RedisProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.start()
    yield proxy
    if proxy._server is not None:
        await proxy.cut()


async def test_redis_dying_mid_request_and_coming_back(
    standin: Any, proxy: RedisProxy, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    db = os.environ["GATEWAY_REDIS_URL"].rsplit("/", 1)[1]
    standin.set("plant_id", "ok", delay_s=0.5)
    # A short lease: the in-flight request's lock release is lost with Redis, and the lock then
    # blocks the same photo until it expires (see the report on single-flight).
    app = make_app(redis_url=f"redis://127.0.0.1:{proxy.port}/{db}", redis_timeout_s=0.3, lock_lease_ms=2000)
    image = kit.photo(90)
    async with running(app) as client:
        # Given a request in flight (it holds the lock, and will want to store its result)
        in_flight = asyncio.create_task(client.post(kit.IDENTIFY, files=kit.upload(image)))
        await asyncio.sleep(0.25)
        # When Redis goes away under it
        await proxy.cut()
        during = await in_flight
        # Then it still answers, and so does the next request (no cache, no lock, local breakers)
        while_down = await client.post(kit.IDENTIFY, files=kit.upload(image))
        health_down = await client.get(kit.HEALTH)

        # When Redis comes back
        await proxy.restore()
        await asyncio.sleep(1.1)  # the breakers retry Redis at most once a second
        started = asyncio.get_running_loop().time()
        first_after = await client.post(kit.IDENTIFY, files=kit.upload(image))
        stalled = asyncio.get_running_loop().time() - started
        second_after = await client.post(kit.IDENTIFY, files=kit.upload(image))
        health_up = await client.get(kit.HEALTH)

    assert during.status_code == 200 and during.json()["success"] is True
    assert while_down.status_code == 200 and while_down.json()["cached"] is False
    assert health_down.status_code == 503 and health_down.json()["services"]["redis"] == {"available": False}
    assert first_after.status_code == 200 and first_after.json()["cached"] is False
    assert stalled < 3.0  # at most the orphaned lock's lease
    assert second_after.json()["cached"] is True  # the cache works again
    assert health_up.status_code == 200
    assert standin.calls()["plant_id"] == 3
