"""Figure 1: cache hit of a 500 KB JPEG at 50 concurrent clients, against a baseline app, in one run.

Goal (issue 4): p50 under 10 ms and throughput at least 0.5x a baseline app behind the same Traefik
that receives the same upload and does one Redis GET. The baseline (bench/gateway_baseline_app.py)
is started here with uvicorn on the bench profile's port, which the edge routes to (the
`bench-baseline` router: the gateway's own middlewares). Both are measured through the edge (the
issue's comparison) and directly (without Traefik's share). Rounds are interleaved, medians of
rounds reported. The load generator (bench/lean_http.py) runs on the same 2-core machine.

Three loads per target and round:
- one client, one request after the other: the latency without queueing;
- closed loop, 50 clients each sending again as soon as it has its answer: capacity. Its p50 is
  queueing only (Little's law: 50 / throughput), whatever the service does;
- open loop, 50 client connections sending at a fixed aggregate rate (`--open-share` of the
  gateway-via-edge capacity), latencies counted from each request's scheduled time: the p50 the
  goal is about, 50 concurrent clients below saturation. Every target gets the same rate.
Run: EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 GATEWAY_ANONYMOUS_LIMIT=1000000 \
  python -m devstack run --profile bench -- python bench/gateway_cache_hit.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from urllib.parse import urlsplit

import gateway_common as g
import lean_http

GOAL_P50_MS = 10.0
GOAL_RATIO = 0.5


def rotated(names: list[str], round_: int) -> list[str]:
    """The targets in a different order each round: no target always goes first."""
    shift = round_ % len(names)
    return names[shift:] + names[:shift]


def row(latencies: list[float], rate: float, statuses: dict) -> tuple[float, float, float, dict]:
    return rate, statistics.median(latencies) * 1000, g.percentile(latencies, 0.99) * 1000, statuses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="closed loop: per target and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=500_000, help="JPEG size in bytes")
    parser.add_argument("--open-share", type=float, default=0.5, help="open-loop rate as a share of the closed-loop gateway-via-edge throughput")
    parser.add_argument("--open-seconds", type=float, default=5.0, help="duration of each open-loop run")
    args = parser.parse_args()

    baseline_url = g.env("PLATFORM_BENCH_BASELINE_URL")
    if not baseline_url:
        raise SystemExit("no baseline route: run in the bench profile (python -m devstack run --profile bench -- …)")
    image = g.noise_jpeg(args.size, seed=time.time_ns())
    files = g.image_files(image)
    targets = {
        "baseline via edge": g.edge_url() + "/bench/baseline/upload",
        "gateway via edge": g.edge_url() + g.IDENTIFY_PATH,
        "baseline direct": baseline_url + "/upload",
        "gateway direct": g.gateway_url() + g.IDENTIFY_PATH,
    }
    requests = {name: lean_http.build_request("POST", url, files=files) for name, url in targets.items()}
    print(f"image: {len(image)} bytes JPEG; request {len(requests['gateway direct'])} bytes on the wire")

    with g.uvicorn_process("gateway_baseline_app:app", port=urlsplit(baseline_url).port or 80, app_dir=os.path.dirname(os.path.abspath(__file__))):
        # Prime the cache (one cold identification), then check that every target answers (a hit for the gateway).
        for name, url in targets.items():
            connection = lean_http.Connection(url)
            answers = [await connection.send(requests[name]) for _ in range(2)]
            connection.close()
            assert all(a.status == 200 for a in answers), (name, answers[-1].status, answers[-1].body[:200])
            if "gateway" in name:
                assert json.loads(answers[-1].body)["cached"] is True, answers[-1].body[:200]

        single: dict[str, list] = {name: [] for name in targets}
        closed: dict[str, list] = {name: [] for name in targets}
        for round_ in range(args.rounds):
            for name in rotated(list(targets), round_):
                latencies, statuses = await lean_http.sequential(targets[name], requests[name], requests=200)
                single[name].append(row(latencies, 0.0, statuses))
                closed[name].append(row(*await lean_http.closed_loop(targets[name], requests[name], connections=args.concurrency, requests=args.requests)))
                r = closed[name][-1]
                print(f"  round {round_ + 1} {name:17s}: c=1 p50 {single[name][-1][1]:5.2f} ms | c={args.concurrency}: {r[0]:7.1f} req/s, p50 {r[1]:6.1f} ms, p99 {r[2]:6.1f} ms  {r[3]}")
        rate = args.open_share * statistics.median(r[0] for r in closed["gateway via edge"])
        opened: dict[str, list] = {name: [] for name in targets}
        for round_ in range(args.rounds):
            for name in rotated(list(targets), round_):
                opened[name].append(row(*await lean_http.open_loop(
                    targets[name], requests[name], connections=args.concurrency, rate=rate, requests=max(1, round(rate * args.open_seconds)))))
                r = opened[name][-1]
                print(f"  open loop round {round_ + 1} {name:17s}: at {r[0]:6.1f} req/s, p50 {r[1]:6.1f} ms, p99 {r[2]:6.1f} ms  {r[3]}")

    def med(table: dict, name: str, i: int) -> float:
        return statistics.median(r[i] for r in table[name])

    print(f"\nCache hit, {len(image)} B JPEG, {args.rounds} interleaved rounds (medians of rounds):")
    for name in targets:
        print(f"  {name:17s}: c=1 p50 {med(single, name, 1):5.2f} ms, p99 {med(single, name, 2):5.2f} ms | c={args.concurrency} closed loop:"
              f" {med(closed, name, 0):7.1f} req/s, p50 {med(closed, name, 1):6.1f} ms | open loop at {rate:.0f} req/s: p50 {med(opened, name, 1):6.1f} ms, p99 {med(opened, name, 2):6.1f} ms")
    via_edge = med(closed, "gateway via edge", 0) / med(closed, "baseline via edge", 0)
    direct = med(closed, "gateway direct", 0) / med(closed, "baseline direct", 0)
    p50 = med(opened, "gateway via edge", 1)
    print(f"\nIssue 4 figure 1 (goals: throughput >= {GOAL_RATIO}x the baseline behind the same edge; p50 < {GOAL_P50_MS:g} ms at {args.concurrency} clients)")
    print(f"  throughput, gateway / baseline, both via the edge: {via_edge:.2f}x  {'MEETS' if via_edge >= GOAL_RATIO else 'MISSES'}  (both direct: {direct:.2f}x)")
    print(f"  p50 via the edge, {args.concurrency} client connections at {rate:.0f} req/s ({args.open_share:.0%} of capacity): {p50:.1f} ms  {'MEETS' if p50 < GOAL_P50_MS else 'MISSES'}"
          f"  (baseline via the edge at the same rate: {med(opened, 'baseline via edge', 1):.1f} ms; one client: {med(single, 'gateway via edge', 1):.2f} ms;"
          f" closed loop, {args.concurrency} clients: {med(closed, 'gateway via edge', 1):.0f} ms = {args.concurrency} / throughput)")


if __name__ == "__main__":
    asyncio.run(main())
