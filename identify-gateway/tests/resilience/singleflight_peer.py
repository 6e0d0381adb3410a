"""Another gateway process for the single-flight tests: `python singleflight_peer.py URL PREFIX KEY START_AT N`.

Prints "ready" once imported, waits until START_AT (Unix time), runs N concurrent
`SingleFlight.run` calls of KEY, then prints one JSON line: {"how": {...}, "values": [...]}.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time

from redis.asyncio import Redis

from identify_gateway.resilience.locks import SingleFlight


async def main(url: str, prefix: str, key: str, start_at: float, n: int) -> None:
    redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    flight = SingleFlight(redis, prefix=f"{prefix}lock:", poll_interval_s=0.02)

    async def compute() -> str:
        count = await redis.incr(f"{prefix}computes")
        await asyncio.sleep(0.5)  # an engine call
        value = f"result-{count}"
        await redis.set(f"{prefix}cache:{key}", value)
        return value

    async def recheck() -> str | None:
        raw = await redis.get(f"{prefix}cache:{key}")
        return raw.decode() if raw else None

    print("ready", flush=True)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    results = await asyncio.gather(*(flight.run(key, compute, recheck=recheck) for _ in range(n)))
    await redis.aclose()
    print(json.dumps({"how": collections.Counter(how for _, how in results), "values": sorted({v for v, _ in results})}), flush=True)


if __name__ == "__main__":
    url, prefix, key, start_at, n = sys.argv[1:6]
    asyncio.run(main(url, prefix, key, float(start_at), int(n)))
