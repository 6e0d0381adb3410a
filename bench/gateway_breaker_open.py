"""Figure 4: both breakers open, then one probe after the reset timeout under 50 concurrent callers.

Goals (issue 4): with the breakers open, p99 under 5 ms through the edge and zero engine calls
(stand-in counters); after GATEWAY_BREAKER_RESET_TIMEOUT_S, exactly one probe call per engine while
50 callers arrive at once (distinct images, so single-flight plays no part).
Baseline in the same run: GET /.well-known/jwks.json through the edge (the cheapest routed request).
Run (a short reset timeout keeps it quick):
  GATEWAY_BREAKER_RESET_TIMEOUT_S=5 GATEWAY_ANONYMOUS_LIMIT=1000000 EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 \
  python -m devstack run --profile bench -- python bench/gateway_breaker_open.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import gateway_common as g

BASELINE = "/.well-known/jwks.json"  # the cheapest routed path (bench/edge_overhead.py)
HEALTH = "/api/v1/plant-identification/identify/health/"


async def breaker_states(http) -> dict:
    body = (await http.get(HEALTH)).json()
    return {name: body["services"][name]["circuit_state"] for name in ("plant_id", "plantnet")}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--callers", type=int, default=50)
    args = parser.parse_args()
    reset_s = float(os.environ.get("GATEWAY_BREAKER_RESET_TIMEOUT_S", "60"))
    seed = time.time_ns()
    image = g.small_jpeg(seed)
    async with g.client(g.edge_url(), concurrency=args.callers, timeout=60) as edge:
        g.standin_reset()
        try:
            g.standin_control("plant_id", "down")
            g.standin_control("plantnet", "down")
            # Trip both breakers (fail_max 3 and 5 by default): distinct images until the gateway answers 503.
            trips = 0
            for i in range(50):
                response = await g.identify(edge, g.small_jpeg(seed + 1 + i))
                trips += 1
                states = await breaker_states(edge)
                if response.status_code == 503 and all(s == "open" for s in states.values()):
                    break
            print(f"  tripped after {trips} requests: breakers {states}, last answer {response.status_code}")
            # Open: p99 through the edge, engine calls before/after; baseline GET /.well-known/jwks.json through the edge.
            for _ in range(20):
                await g.identify(edge, image)
                await edge.get(BASELINE)
            before = g.standin_calls()
            open_lat, livez_lat, statuses = [], [], {}
            measure_started = time.monotonic()
            for i in range(args.requests):
                started = time.perf_counter()
                response = await g.identify(edge, image)
                open_lat.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                started = time.perf_counter()
                await edge.get(BASELINE)
                livez_lat.append(time.perf_counter() - started)
            after = g.standin_calls()
            open_window = time.monotonic() - measure_started
            calls_open = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
            retry_after = response.headers.get("retry-after")
            print(f"  breakers open: {args.requests} identify via edge (c=1) in {open_window:.1f} s: statuses {statuses}, Retry-After {retry_after}")
            print(f"    identify: {g.summary_ms(open_lat)}")
            print(f"    GET /.well-known/jwks.json via edge (baseline): {g.summary_ms(livez_lat)}")
            print(f"    engine calls while open: {calls_open}  (goal: 0, 0)")
            # Half-open: after the reset timeout, 50 callers at once; engines still down so the probes fail.
            wait = reset_s + 0.5
            print(f"  waiting {wait:.1f} s (GATEWAY_BREAKER_RESET_TIMEOUT_S={reset_s:g})")
            await asyncio.sleep(wait)
            before = g.standin_calls()
            images = [g.small_jpeg(seed + 100 + i) for i in range(args.callers)]
            responses = await asyncio.gather(*(g.identify(edge, img) for img in images))
            after = g.standin_calls()
            calls_probe = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
            probe_statuses: dict = {}
            for r in responses:
                probe_statuses[r.status_code] = probe_statuses.get(r.status_code, 0) + 1
            print(f"  after the reset timeout, {args.callers} concurrent callers (engines still down): engine calls {calls_probe}  (goal: 1, 1); statuses {probe_statuses}")
            # Second probe round with the engines back (slow enough that the probe is in flight while the others arrive).
            g.standin_control("plant_id", delay_s=0.4)
            g.standin_control("plantnet", delay_s=0.6)
            await asyncio.sleep(wait)
            before = g.standin_calls()
            images = [g.small_jpeg(seed + 200 + i) for i in range(args.callers)]
            responses = await asyncio.gather(*(g.identify(edge, img) for img in images))
            after = g.standin_calls()
            calls_up = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
            up_statuses: dict = {}
            for r in responses:
                up_statuses[r.status_code] = up_statuses.get(r.status_code, 0) + 1
            print(f"  engines back (400/600 ms), after the reset timeout, {args.callers} concurrent callers: engine calls {calls_up}  (goal: 1, 1); statuses {up_statuses}; breakers now {await breaker_states(edge)}")
        finally:
            g.standin_reset()
    p99 = g.percentile(open_lat, 0.99) * 1000
    print(f"\nBreaker open via edge: p99 {p99:.2f} ms (goal < 5 ms), p50 {statistics.median(open_lat) * 1000:.2f} ms;"
          f" p99 minus GET /.well-known/jwks.json p99 = {p99 - g.percentile(livez_lat, 0.99) * 1000:+.2f} ms; engine calls while open {calls_open};"
          f" probe calls under {args.callers} callers {calls_probe} (engines down), {calls_up} (engines back)")


if __name__ == "__main__":
    asyncio.run(main())
