"""Figure 3: stampede. 100 concurrent identical cold requests over 2 gateway processes, and 100 distinct at once.

Goals (issue 4): the identical burst makes exactly one call per engine (single-flight across
processes through the Redis lock); the distinct burst takes about one engine latency, not 100x.
A second gateway process is started here with the same GATEWAY_* environment on a free port; the
requests are split evenly between it and the stack's gateway (both reached directly).
Baseline in the same run: one cold request alone (same engine latencies).
Where the time goes: the CPU seconds each process (both gateways, the stand-in, the CMS, Redis and
this client) used during the distinct burst; on 2 cores, half their sum is a floor for its wall time.
Run: GATEWAY_ANONYMOUS_LIMIT=1000000 python -m devstack run --profile bench -- python bench/gateway_stampede.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

import gateway_common as g
import lean_http

PLANT_ID_S, PLANTNET_S = 0.4, 0.6


def identify_requests(urls: list[str], images: list[bytes]) -> list[tuple[str, bytes]]:
    """One prebuilt request per image, alternating between the gateways (encoded before any timing)."""
    return [(urls[i % len(urls)], g.identify_request(urls[i % len(urls)], image)) for i, image in enumerate(images)]


async def burst(requests: list[tuple[str, bytes]]) -> tuple[float, dict, list[float]]:
    """Send every request at once, each on its own connection (one client each, as 100 people would);
    (wall seconds, outcome counts, latencies). Connections are opened before the clock starts."""
    outcomes: dict = {}
    latencies: list[float] = []
    connections = [lean_http.Connection(url) for url, _ in requests]
    await asyncio.gather(*(c.connect() for c in connections))

    async def one(connection: lean_http.Connection, request: bytes) -> None:
        started = time.perf_counter()
        answer = await connection.send(request)
        latencies.append(time.perf_counter() - started)
        body = json.loads(answer.body)
        key = (answer.status, body.get("cached"), body.get("degraded"), body.get("scientific_name"))
        outcomes[key] = outcomes.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(c, request) for c, (_, request) in zip(connections, requests)))
    wall = time.perf_counter() - started
    for c in connections:
        c.close()
    return wall, outcomes, latencies


STACK_PROCESSES = {"gateway": "PLATFORM_GATEWAY_URL", "stand-in": "PLATFORM_STANDIN_URL", "cms": "PLATFORM_CMS_URL", "redis": "PLATFORM_REDIS_URL"}


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    usage = {name: g.cpu_seconds(pid) for name, pid in pids.items()}
    usage["client (this script)"] = sum(os.times()[:2])
    usage["machine (everything)"] = g.machine_cpu_seconds()  # other people's work included: the noise
    return usage


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = g.free_port()
    with g.uvicorn_process("identify_gateway.main:app", port=port) as second:
        pids = {**g.stack_pids(STACK_PROCESSES), "gateway 2": second.pid}
        urls = [g.gateway_url(), f"http://127.0.0.1:{port}"]
        try:
            g.standin_reset()
            g.standin_control("plant_id", delay_s=PLANT_ID_S)
            g.standin_control("plantnet", delay_s=PLANTNET_S)
            seed = time.time_ns()
            for i, url in enumerate(urls):  # warm both processes (engine clients, JWKS, Redis pools)
                connection = lean_http.Connection(url)
                answer = await connection.send(g.identify_request(url, g.small_jpeg(seed + 10_000 + i)))
                connection.close()
                assert answer.status == 200, answer.body[:200]
            await burst(identify_requests(urls, [g.small_jpeg(seed + 20_000 + j) for j in range(args.callers // 2)]))
            single, identical_calls, distinct_walls, distinct_ratio, distinct_cpu = [], [], [], [], []
            for r in range(args.rounds):
                base = seed + 1000 * (r + 1)
                # Baseline: one cold request alone.
                wall, outcome, _ = await burst(identify_requests(urls[:1], [g.small_jpeg(base)]))
                single.append(wall)
                # 100 identical cold requests.
                before = g.standin_calls()
                wall_same, outcome_same, _ = await burst(identify_requests(urls, [g.small_jpeg(base + 1)] * args.callers))
                after = g.standin_calls()
                calls = {e: after[e] - before[e] for e in ("plant_id", "plantnet", "gbif")}
                identical_calls.append(calls)
                # 100 distinct cold requests.
                distinct = identify_requests(urls, [g.small_jpeg(base + 2 + j) for j in range(args.callers)])
                before, cpu_before = g.standin_calls(), cpu_snapshot(pids)
                wall_distinct, outcome_distinct, lat = await burst(distinct)
                after, cpu_after = g.standin_calls(), cpu_snapshot(pids)
                distinct_cpu.append({name: cpu_after[name] - cpu_before[name] for name in cpu_before})
                calls_d = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
                distinct_walls.append(wall_distinct)
                distinct_ratio.append(wall_distinct / wall)
                print(f"  round {r + 1}: single cold {wall * 1000:.0f} ms {outcome}")
                print(f"           {args.callers} identical: wall {wall_same * 1000:.0f} ms, engine calls {calls}, outcomes (status, cached, degraded, name) {outcome_same}")
                print(f"           {args.callers} distinct : wall {wall_distinct * 1000:.0f} ms = {wall_distinct / wall:.2f}x single, engine calls {calls_d}, outcomes {outcome_distinct}")
                print(f"           CPU seconds during the distinct burst: { {name: round(cpu, 2) for name, cpu in distinct_cpu[-1].items()} }")
        finally:
            g.standin_reset()
    print(f"\nStampede over 2 gateway processes, stand-in Plant.id {PLANT_ID_S * 1000:.0f} ms / Pl@ntNet {PLANTNET_S * 1000:.0f} ms, {args.rounds} rounds:")
    print(f"  identical x{args.callers}: engine calls per round {identical_calls}  (goal: plant_id 1, plantnet 1 each round)")
    print(f"  distinct x{args.callers}: wall median {statistics.median(distinct_walls) * 1000:.0f} ms; single cold median {statistics.median(single) * 1000:.0f} ms;"
          f" ratio median {statistics.median(distinct_ratio):.2f}x  (goal: about 1x, not {args.callers}x)")
    cpu = {name: statistics.median(round_[name] for round_ in distinct_cpu) for name in distinct_cpu[0]}
    ours = sum(value for name, value in cpu.items() if not name.startswith("machine"))
    print(f"  CPU seconds per distinct burst (medians): { {name: round(value, 2) for name, value in cpu.items()} };"
          f" the stack's and the client's total {ours:.2f} s = {ours / 2 * 1000:.0f} ms of wall time at best on 2 cores")


if __name__ == "__main__":
    asyncio.run(main())
