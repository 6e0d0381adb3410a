"""Figure 4: both breakers open, then one probe after the reset timeout under 50 concurrent callers.

Goals (issue 4): with the breakers open, p99 under 5 ms through the edge and zero engine calls
(stand-in counters); after GATEWAY_BREAKER_RESET_TIMEOUT_S, exactly one probe call per engine while
50 callers arrive at once (distinct images, so single-flight plays no part), with the engines still
down (the probe fails: open again for a new period) and with them back (the probe closes it).
Baseline in the same run, interleaved request by request: GET /.well-known/jwks.json through the
edge (the cheapest routed request); the script prints the ratio of the two.
The open-state sample stops before the reset timeout runs out (the next period's probe is an
engine call by design), so a longer reset timeout gives more samples. Run:
  GATEWAY_BREAKER_RESET_TIMEOUT_S=15 GATEWAY_ANONYMOUS_LIMIT=1000000 EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 \
  python -m devstack run --profile bench -- python bench/gateway_breaker_open.py [--image-kb 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Mapping

import gateway_common as g
import lean_http

BASELINE = "/.well-known/jwks.json"  # the cheapest routed path (bench/edge_overhead.py)
HEALTH = "/api/v1/plant-identification/identify/health/"


def gateway_refusal(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """The gateway's own 503 (the seed's envelope and Retry-After), not one the edge wrote itself
    (e.g. "no available server" while its health check has taken the gateway out)."""
    if status != 503 or "retry-after" not in headers:
        return False
    try:
        return json.loads(body).get("code") == "service_unavailable"
    except ValueError:
        return False


async def timed(request, since: float):
    """The response and when it came back (seconds after `since`)."""
    response = await request
    return response, time.monotonic() - since


async def breaker_states(http) -> dict:
    for _ in range(50):
        try:
            body = (await http.get(HEALTH)).json()
        except ValueError:  # the edge's own plain-text answer while its health check has the gateway out
            await asyncio.sleep(0.2)
            continue
        return {name: body["services"][name]["circuit_state"] for name in ("plant_id", "plantnet")}
    raise RuntimeError("the gateway's health never answered through the edge")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--image-kb", type=int, default=0, help="upload size while open (0: a small JPEG of a few KB)")
    parser.add_argument("--probe-delay-s", type=float, default=3.0,
                        help="engine latency once back: the probe must still run while the last of the callers arrive, "
                             "or late callers meet a closed circuit and count as ordinary calls")
    args = parser.parse_args()
    reset_s = float(os.environ.get("GATEWAY_BREAKER_RESET_TIMEOUT_S", "60"))
    seed = time.time_ns()
    image = g.noise_jpeg(args.image_kb * 1000, seed=seed) if args.image_kb else g.small_jpeg(seed)
    async with g.client(g.edge_url(), concurrency=args.callers, timeout=60) as edge:
        g.standin_reset()
        try:
            g.standin_control("plant_id", "down")
            g.standin_control("plantnet", "down")
            # Trip both breakers (fail_max 3 and 5 by default): distinct images until the gateway answers 503.
            trips = 0
            first_open_at = None  # the open period of the first breaker to open ends first
            for i in range(50):
                response = await g.identify(edge, g.small_jpeg(seed + 1 + i))
                trips += 1
                states = await breaker_states(edge)
                if first_open_at is None and "open" in states.values():
                    first_open_at = time.monotonic()
                if response.status_code == 503 and all(s == "open" for s in states.values()):
                    break
            open_ends = (first_open_at or time.monotonic()) + reset_s - 0.5
            print(f"  tripped after {trips} requests: breakers {states}, last answer {response.status_code}")
            # Open: p99 through the edge, engine calls before/after; baseline GET /.well-known/jwks.json through the edge.
            # One client, one request at a time, on keep-alive connections of the lean load generator
            # (bench/lean_http.py: httpx's own CPU would otherwise show as latency here).
            identify_request = g.identify_request(g.edge_url(), image)
            baseline_request = lean_http.build_request("GET", g.edge_url() + BASELINE)
            identify_connection, baseline_connection = lean_http.Connection(g.edge_url()), lean_http.Connection(g.edge_url())
            for _ in range(20):
                await identify_connection.send(identify_request)
                await baseline_connection.send(baseline_request)
            before = g.standin_calls()
            open_lat, livez_lat, statuses, edge_answers = [], [], {}, 0
            measure_started = time.monotonic()
            for i in range(args.requests):
                if time.monotonic() >= open_ends:
                    print(f"  (stopped after {i} requests: the reset timeout is about to end the open period)")
                    break
                started = time.perf_counter()
                answer = await identify_connection.send(identify_request)
                elapsed = time.perf_counter() - started
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if not gateway_refusal(answer.status, answer.headers, answer.body):
                    edge_answers += 1  # not the path measured here: left out of the latencies
                    continue
                open_lat.append(elapsed)
                started = time.perf_counter()
                await baseline_connection.send(baseline_request)
                livez_lat.append(time.perf_counter() - started)
            identify_connection.close()
            baseline_connection.close()
            after = g.standin_calls()
            open_window = time.monotonic() - measure_started
            calls_open = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
            retry_after = answer.headers.get("retry-after")
            print(f"  breakers open: {len(open_lat)} identify ({len(image) // 1000} KB upload) via edge (c=1) in {open_window:.1f} s: statuses {statuses}, Retry-After {retry_after}")
            if edge_answers:
                print(f"    WARNING: {edge_answers} answers were not the gateway's 503 (the edge's own, or another status): left out")
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
            g.standin_control("plant_id", delay_s=args.probe_delay_s)
            g.standin_control("plantnet", delay_s=args.probe_delay_s)
            await asyncio.sleep(wait)
            before = g.standin_calls()
            images = [g.small_jpeg(seed + 200 + i) for i in range(args.callers)]
            round_started = time.monotonic()
            responses = await asyncio.gather(*(timed(g.identify(edge, img), round_started) for img in images))
            after = g.standin_calls()
            refused_by = max((at for r, at in responses if r.status_code == 503), default=0.0)
            responses = [r for r, _ in responses]
            calls_up = {e: after[e] - before[e] for e in ("plant_id", "plantnet")}
            up_statuses: dict = {}
            for r in responses:
                up_statuses[r.status_code] = up_statuses.get(r.status_code, 0) + 1
            print(f"  engines back ({args.probe_delay_s:g} s), after the reset timeout, {args.callers} concurrent callers: engine calls {calls_up}  (goal: 1, 1); statuses {up_statuses}"
                  f" (the last 503 came {refused_by:.2f} s into the round, the probe takes {args.probe_delay_s:g} s); breakers now {await breaker_states(edge)}")
        finally:
            g.standin_reset()
    p99, base_p99 = g.percentile(open_lat, 0.99) * 1000, g.percentile(livez_lat, 0.99) * 1000
    p50, base_p50 = statistics.median(open_lat) * 1000, statistics.median(livez_lat) * 1000
    print(f"\nBreaker open via edge ({len(image) // 1000} KB upload): p99 {p99:.2f} ms (goal < 5 ms), p50 {p50:.2f} ms;"
          f" baseline GET /.well-known/jwks.json p99 {base_p99:.2f} ms, p50 {base_p50:.2f} ms;"
          f" ratio to baseline p99 {p99 / base_p99:.2f}x, p50 {p50 / base_p50:.2f}x; engine calls while open {calls_open};"
          f" probe calls under {args.callers} callers {calls_probe} (engines down), {calls_up} (engines back)")


if __name__ == "__main__":
    asyncio.run(main())
