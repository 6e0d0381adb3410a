"""Refresh-token rotation through the edge at 50 concurrent clients, against a baseline in the same run.

Each client signs in once (mobile flow) and then rotates its refresh token in a loop; the baseline
is the gateway's public health endpoint at the same concurrency through the same edge. Issue 3's
figure: refresh p50 and p99, and their ratio to the baseline.
Run inside a stack, with the edge's per-IP limit lifted for the one load-generating address:
`EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 python -m devstack run --profile test -- python bench/auth_refresh.py`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import httpx

BASELINE = "/api/v1/plant-identification/identify/health/"


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


async def sign_up(client: httpx.AsyncClient) -> str:
    email, password = f"bench-{uuid.uuid4().hex[:12]}@example.org", f"Bench-{uuid.uuid4().hex}"
    (await client.post("/api/v1/auth/register", json={"email": email, "password": password})).raise_for_status()
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return response.json()["refresh_token"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=40)
    args = parser.parse_args()
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=os.environ["PLATFORM_EDGE_URL"], limits=limits, timeout=30) as client:
        tokens = await asyncio.gather(*(sign_up(client) for _ in range(args.clients)))

        async def refresh_loop(index: int, out: list[float]) -> None:
            for _ in range(args.per_client):
                started = time.perf_counter()
                response = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens[index]})
                out.append(time.perf_counter() - started)
                response.raise_for_status()
                tokens[index] = response.json()["refresh_token"]

        async def baseline_loop(_index: int, out: list[float]) -> None:
            for _ in range(args.per_client):
                started = time.perf_counter()
                response = await client.get(BASELINE)
                out.append(time.perf_counter() - started)
                response.raise_for_status()

        results: dict[str, list[float]] = {}
        for name, loop in (("baseline", baseline_loop), ("refresh", refresh_loop), ("baseline again", baseline_loop)):
            out: list[float] = []
            started = time.perf_counter()
            await asyncio.gather(*(loop(i, out) for i in range(args.clients)))
            elapsed = time.perf_counter() - started
            out.sort()
            results[name] = out
            print(f"{name:15s}: {len(out)} requests in {elapsed:5.1f} s ({len(out) / elapsed:6.0f}/s)  "
                  f"p50 {statistics.median(out) * 1000:7.1f} ms  p99 {percentile(out, 0.99) * 1000:7.1f} ms")
    base = sorted(results["baseline"] + results["baseline again"])
    refresh = results["refresh"]
    print(f"refresh / gateway health at {args.clients} clients: p50 ratio {statistics.median(refresh) / statistics.median(base):.2f}, "
          f"p99 ratio {percentile(refresh, 0.99) / percentile(base, 0.99):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
