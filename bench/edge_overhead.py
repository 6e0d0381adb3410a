"""Edge overhead: the same request straight to a service and through Traefik, in one run.

Target (perf notes A2): p50 overhead ≤ 1 ms and throughput through the edge ≥ 0.7× direct.
Run inside a stack: `python -m devstack run --profile test -- python bench/edge_overhead.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx

PATH = "/api/v1/auth/health/"


async def measure(base_url: str, *, requests: int, concurrency: int) -> tuple[float, float, float]:
    """Return (requests per second, p50 ms, p99 ms) for `requests` GETs at `concurrency`."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        for _ in range(concurrency):  # warm connections and caches
            (await client.get(PATH)).raise_for_status()
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.get(PATH)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99) - 1] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternate direct/edge this many times; best round counts")
    args = parser.parse_args()
    direct_url, edge_url = os.environ["PLATFORM_AUTH_URL"], os.environ["PLATFORM_EDGE_URL"]

    results: dict[str, list[tuple[float, float, float]]] = {"direct": [], "edge": []}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits both alike
        results["direct"].append(await measure(direct_url, requests=args.requests, concurrency=args.concurrency))
        results["edge"].append(await measure(edge_url, requests=args.requests, concurrency=args.concurrency))
    best = {name: max(rounds) for name, rounds in results.items()}
    (d_rps, d_p50, d_p99), (e_rps, e_p50, e_p99) = best["direct"], best["edge"]
    print(f"GET {PATH}: {args.requests} requests x {args.rounds} rounds, concurrency {args.concurrency}")
    print(f"  direct to auth-service : {d_rps:8.0f} req/s  p50 {d_p50:6.2f} ms  p99 {d_p99:6.2f} ms")
    print(f"  through Traefik        : {e_rps:8.0f} req/s  p50 {e_p50:6.2f} ms  p99 {e_p99:6.2f} ms")
    print(f"  throughput ratio edge/direct = {e_rps / d_rps:.2f}  (target ≥ 0.70)")
    print(f"  p50 overhead = {e_p50 - d_p50:+.2f} ms  (target ≤ 1 ms);  p99 overhead = {e_p99 - d_p99:+.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
