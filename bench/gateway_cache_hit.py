"""Figure 1: cache hit of a 500 KB JPEG at 50 concurrent clients, against a baseline app, in one run.

Goal (issue 4): p50 under 10 ms and throughput at least 0.5x a baseline app that receives the same
upload and does one Redis GET. The baseline (bench/gateway_baseline_app.py) is started here with
uvicorn and reached directly; the gateway is measured directly (PLATFORM_GATEWAY_URL) - the
like-for-like comparison - and through the edge (PLATFORM_EDGE_URL). Rounds are interleaved;
medians of rounds are reported. The client runs on the same (2-core) machine.

Closed loop (each of the 50 clients sends again as soon as it has its answer) measures capacity;
its p50 is only queueing (Little's law: 50 / throughput). Then an open loop: 50 client connections
sending at a fixed aggregate rate (`--open-share` of the gateway-via-edge closed-loop throughput),
latencies counted from each request's scheduled time; every target gets the same rate.
Run: EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 GATEWAY_ANONYMOUS_LIMIT=1000000 \
  python -m devstack run --profile bench -- python bench/gateway_cache_hit.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx

import gateway_common as g


async def measure(base_url: str, path: str, body: bytes, content_type: str, *, requests: int, concurrency: int) -> tuple[float, float, float, dict]:
    """(req/s, p50 ms, p99 ms, status counts) for `requests` POSTs of the same prebuilt multipart body."""
    latencies: list[float] = []
    statuses: dict = {}
    headers = {"content-type": content_type}
    async with g.client(base_url, concurrency=concurrency, timeout=30) as http:
        for _ in range(concurrency):  # warm connections
            await http.post(path, content=body, headers=headers)
        remaining = requests
        cached_flags = set()

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await http.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if path == g.IDENTIFY_PATH and response.status_code == 200:
                    cached_flags.add(response.json().get("cached"))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if path == g.IDENTIFY_PATH and cached_flags != {True}:
        statuses["cached_flags"] = sorted(map(str, cached_flags))
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, g.percentile(latencies, 0.99) * 1000, statuses


def rotated(names: list[str], round_: int) -> list[str]:
    """The targets in a different order each round: no target always goes first."""
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


async def measure_open(base_url: str, path: str, body: bytes, content_type: str, *, rate: float, requests: int, connections: int) -> tuple[float, float, float, dict]:
    """(achieved req/s, p50 ms, p99 ms, status counts) of `requests` POSTs sent at `rate` over `connections` connections."""
    headers = {"content-type": content_type}
    async with g.client(base_url, concurrency=connections, timeout=30) as http:
        await asyncio.gather(*(http.post(path, content=body, headers=headers) for _ in range(connections)))  # open every connection
        latencies, achieved, statuses = await g.open_loop(http, lambda h: h.post(path, content=body, headers=headers), rate=rate, requests=requests)
    return achieved, statistics.median(latencies) * 1000, g.percentile(latencies, 0.99) * 1000, statuses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per target and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=500_000, help="JPEG size in bytes")
    parser.add_argument("--open-share", type=float, default=0.5, help="open-loop rate as a share of the closed-loop gateway-via-edge throughput")
    parser.add_argument("--open-seconds", type=float, default=5.0, help="duration of each open-loop run")
    args = parser.parse_args()

    image = g.noise_jpeg(args.size, seed=time.time_ns())
    request = httpx.Request("POST", "http://x/", files={"image": ("plant.jpg", image, "image/jpeg")})
    body = request.read()
    content_type = request.headers["content-type"]
    print(f"image: {len(image)} bytes JPEG; multipart body {len(body)} bytes")

    # Prime the cache (one cold identification), then check it hits.
    async with g.client(g.gateway_url(), concurrency=1) as http:
        first = await http.post(g.IDENTIFY_PATH, content=body, headers={"content-type": content_type})
        first.raise_for_status()
        second = (await http.post(g.IDENTIFY_PATH, content=body, headers={"content-type": content_type})).json()
        assert second["cached"] is True, second

    port = g.free_port()
    targets = {
        "baseline direct": (f"http://127.0.0.1:{port}", "/upload"),
        "gateway direct": (g.gateway_url(), g.IDENTIFY_PATH),
        "gateway via edge": (g.edge_url(), g.IDENTIFY_PATH),
    }
    results: dict[str, list] = {name: [] for name in targets}
    latency1: dict[str, list] = {name: [] for name in targets}
    with g.uvicorn_process("gateway_baseline_app:app", port=port, app_dir=os.path.dirname(os.path.abspath(__file__))):
        for round_ in range(args.rounds):
            for name in rotated(list(targets), round_):
                url, path = targets[name]
                latency1[name].append(await measure(url, path, body, content_type, requests=100, concurrency=1))
                results[name].append(await measure(url, path, body, content_type, requests=args.requests, concurrency=args.concurrency))
                r = results[name][-1]
                print(f"  round {round_ + 1} {name:17s}: {r[0]:7.1f} req/s, p50 {r[1]:6.1f} ms, p99 {r[2]:6.1f} ms  {r[3]}")
        rate = args.open_share * statistics.median(r[0] for r in results["gateway via edge"])
        open_results: dict[str, list] = {name: [] for name in targets}
        for round_ in range(args.rounds):
            for name in rotated(list(targets), round_):
                url, path = targets[name]
                open_results[name].append(
                    await measure_open(url, path, body, content_type, rate=rate, requests=max(1, round(rate * args.open_seconds)), connections=args.concurrency)
                )
                r = open_results[name][-1]
                print(f"  open loop round {round_ + 1} {name:17s}: at {r[0]:6.1f} req/s, p50 {r[1]:6.1f} ms, p99 {r[2]:6.1f} ms  {r[3]}")

    def med(name: str, i: int, table: dict = results) -> float:
        return statistics.median(r[i] for r in table[name])

    print(f"\nCache hit, {len(image)} B JPEG, {args.rounds} interleaved rounds (medians of rounds):")
    for name in targets:
        print(f"  {name:17s}: c={args.concurrency}: {med(name, 0):7.1f} req/s, p50 {med(name, 1):6.1f} ms, p99 {med(name, 2):6.1f} ms;"
              f"  c=1: p50 {med(name, 1, latency1):5.2f} ms, p99 {med(name, 2, latency1):5.2f} ms")
    base = med("baseline direct", 0)
    print(f"  throughput ratio gateway direct / baseline direct = {med('gateway direct', 0) / base:.2f}  (goal >= 0.50)")
    print(f"  throughput ratio gateway via edge / baseline direct = {med('gateway via edge', 0) / base:.2f}  (baseline not behind the edge)")
    print(f"  p50 via edge at c={args.concurrency}: {med('gateway via edge', 1):.1f} ms; at c=1: {med('gateway via edge', 1, latency1):.2f} ms  (goal < 10 ms)")
    print(f"\nOpen loop, {args.concurrency} connections at {rate:.1f} req/s ({args.open_share:.0%} of the closed-loop gateway-via-edge throughput), medians of rounds:")
    for name in targets:
        print(f"  {name:17s}: achieved {med(name, 0, open_results):6.1f} req/s, p50 {med(name, 1, open_results):6.1f} ms, p99 {med(name, 2, open_results):6.1f} ms")
    print(f"  p50 via edge at {rate:.0f} req/s: {med('gateway via edge', 1, open_results):.1f} ms  (goal < 10 ms);"
          f" baseline direct at the same rate: {med('baseline direct', 1, open_results):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
