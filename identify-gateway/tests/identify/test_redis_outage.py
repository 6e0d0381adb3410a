"""Redis dying in the middle of an identification, and coming back: the gateway keeps answering
without cache and lock, breakers fall back to local state, and everything resumes when Redis returns.

Redis is reached through a small TCP proxy this test can cut and restore (the real Redis of the
stack stays up for everyone else).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any



async def test_redis_dying_mid_request_and_coming_back(
    standin: Any, redis_proxy: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    standin.set("plant_id", "ok", delay_s=0.5)
    # A short lease: the in-flight request's lock release is lost with Redis, and the lock then
    # blocks the same photo until it expires (see the report on single-flight).
    app = make_app(redis_url=redis_proxy.url, redis_timeout_s=0.3, lock_lease_ms=2000)
    image = kit.photo(90)
    async with running(app) as client:
        # Given a request in flight (it holds the lock, and will want to store its result)
        in_flight = asyncio.create_task(client.post(kit.IDENTIFY, files=kit.upload(image)))
        await asyncio.sleep(0.25)
        # When Redis goes away under it
        await redis_proxy.cut()
        during = await in_flight
        # Then it still answers, and so does the next request (no cache, no lock, local breakers)
        while_down = await client.post(kit.IDENTIFY, files=kit.upload(image))
        health_down = await client.get(kit.HEALTH)

        # When Redis comes back
        await redis_proxy.restore()
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
