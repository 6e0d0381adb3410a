"""Figure 3: stampede. 100 concurrent identical cold requests over 2 gateway processes, and 100 distinct at once.

Goals (issue 4): the identical burst makes exactly one call per engine (single-flight across
processes through the Redis lock); the distinct burst takes about one engine latency, not 100x.
A second gateway process is started here with the same GATEWAY_* environment on a free port; the
requests are split evenly between it and the stack's gateway (both reached directly).
Baseline in the same run: one cold request alone (same engine latencies).
Run: GATEWAY_ANONYMOUS_LIMIT=1000000 python -m devstack run --profile bench -- python bench/gateway_stampede.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

import gateway_common as g

PLANT_ID_S, PLANTNET_S = 0.4, 0.6


async def burst(clients: list[httpx.AsyncClient], images: list[bytes]) -> tuple[float, dict, list[float]]:
    """Send every image at once, alternating between the clients; (wall seconds, outcome counts, latencies)."""
    outcomes: dict = {}
    latencies: list[float] = []

    async def one(i: int, image: bytes) -> None:
        started = time.perf_counter()
        response = await g.identify(clients[i % len(clients)], image)
        latencies.append(time.perf_counter() - started)
        body = response.json()
        key = (response.status_code, body.get("cached"), body.get("degraded"), body.get("scientific_name"))
        outcomes[key] = outcomes.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i, image) for i, image in enumerate(images)))
    return time.perf_counter() - started, outcomes, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = g.free_port()
    with g.uvicorn_process("identify_gateway.main:app", port=port):
        urls = [g.gateway_url(), f"http://127.0.0.1:{port}"]
        clients = [g.client(url, concurrency=args.callers, timeout=60) for url in urls]
        try:
            g.standin_reset()
            g.standin_control("plant_id", delay_s=PLANT_ID_S)
            g.standin_control("plantnet", delay_s=PLANTNET_S)
            seed = time.time_ns()
            for i, http in enumerate(clients):  # warm both processes (engine clients, JWKS, Redis pools)
                (await g.identify(http, g.small_jpeg(seed + 10_000 + i))).raise_for_status()
            await asyncio.gather(*(burst(clients, [g.small_jpeg(seed + 20_000 + j) for j in range(args.callers // 2)]) for _ in range(1)))
            single, identical_calls, distinct_walls, distinct_ratio = [], [], [], []
            for r in range(args.rounds):
                base = seed + 1000 * (r + 1)
                # Baseline: one cold request alone.
                wall, outcome, _ = await burst(clients[:1], [g.small_jpeg(base)])
                single.append(wall)
                # 100 identical cold requests.
                before = g.standin_calls()
                wall_same, outcome_same, _ = await burst(clients, [g.small_jpeg(base + 1)] * args.callers)
                after = g.standin_calls()
                calls = {e: after[e] - before[e] for e in ("plant_id", "plantnet", "gbif")}
                identical_calls.append(calls)
                # 100 distinct cold requests.
                images = [g.small_jpeg(base + 2 + j) for j in range(args.callers)]
                before = g.standin_calls()
                wall_distinct, outcome_distinct, lat = await burst(clients, images)
                after = g.standin_calls()
                calls_d = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
                distinct_walls.append(wall_distinct)
                distinct_ratio.append(wall_distinct / wall)
                print(f"  round {r + 1}: single cold {wall * 1000:.0f} ms {outcome}")
                print(f"           {args.callers} identical: wall {wall_same * 1000:.0f} ms, engine calls {calls}, outcomes (status, cached, degraded, name) {outcome_same}")
                print(f"           {args.callers} distinct : wall {wall_distinct * 1000:.0f} ms = {wall_distinct / wall:.2f}x single, engine calls {calls_d}, outcomes {outcome_distinct}")
        finally:
            g.standin_reset()
            for http in clients:
                await http.aclose()
    print(f"\nStampede over 2 gateway processes, stand-in Plant.id {PLANT_ID_S * 1000:.0f} ms / Pl@ntNet {PLANTNET_S * 1000:.0f} ms, {args.rounds} rounds:")
    print(f"  identical x{args.callers}: engine calls per round {identical_calls}  (goal: plant_id 1, plantnet 1 each round)")
    print(f"  distinct x{args.callers}: wall median {statistics.median(distinct_walls) * 1000:.0f} ms; single cold median {statistics.median(single) * 1000:.0f} ms;"
          f" ratio median {statistics.median(distinct_ratio):.2f}x  (goal: about 1x, not {args.callers}x)")


if __name__ == "__main__":
    asyncio.run(main())
