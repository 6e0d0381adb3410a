"""Figure 2: cold path (cache miss) with the stand-in answering in 400 ms (Plant.id) and 600 ms (Pl@ntNet).

Goal (issue 4): p50 at most 1.1x the slower engine's latency (engines called in parallel).
Every request sends a distinct 500 KB JPEG (a miss), one at a time. Baselines in the same run: the
configured 600 ms, and the stand-in's Pl@ntNet endpoint called directly with the same image.
Run: python -m devstack run --profile bench -- python bench/gateway_cold_path.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import gateway_common as g

PLANT_ID_S, PLANTNET_S = 0.4, 0.6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="per target")
    parser.add_argument("--size", type=int, default=500_000)
    args = parser.parse_args()
    g.standin_reset()
    g.standin_control("plant_id", delay_s=PLANT_ID_S)
    g.standin_control("plantnet", delay_s=PLANTNET_S)
    seed = time.time_ns()
    images = [g.noise_jpeg(args.size, seed=seed + i) for i in range(2 * args.requests + 2)]
    standin_images = list(images[: args.requests])
    plantnet_path = f"/v2/identify/all?api-key={os.environ.get('GATEWAY_PLANTNET_API_KEY', '')}"
    gateway_lat, edge_lat, standin_lat, how = [], [], [], {}
    try:
        async with g.client(g.gateway_url(), concurrency=1) as gw, g.client(g.edge_url(), concurrency=1) as edge, g.client(g.standin_url(), concurrency=1) as si:
            for http in (gw, edge):  # warm connections (and the gateway's engine clients)
                (await g.identify(http, images.pop())).raise_for_status()
            for i in range(args.requests):  # interleaved: direct, edge, stand-in
                for http, bucket in ((gw, gateway_lat), (edge, edge_lat)):
                    started = time.perf_counter()
                    response = await g.identify(http, images.pop())
                    bucket.append(time.perf_counter() - started)
                    body = response.json()
                    key = (response.status_code, body.get("cached"), body.get("degraded"))
                    how[key] = how.get(key, 0) + 1
                started = time.perf_counter()
                r = await si.post(plantnet_path, files={"images": ("plant.jpg", standin_images[i], "image/jpeg")}, data={"organs": "auto"})
                standin_lat.append(time.perf_counter() - started)
                if i == 0:
                    print(f"  stand-in Pl@ntNet direct: HTTP {r.status_code}")
    finally:
        g.standin_reset()
    print(f"Cold path, distinct {args.size} B JPEGs, stand-in Plant.id {PLANT_ID_S * 1000:.0f} ms / Pl@ntNet {PLANTNET_S * 1000:.0f} ms:")
    print(f"  (status, cached, degraded) counts: {how}")
    print(f"  gateway direct  : {g.summary_ms(gateway_lat)}")
    print(f"  gateway via edge: {g.summary_ms(edge_lat)}")
    print(f"  stand-in Pl@ntNet called directly (baseline): {g.summary_ms(standin_lat)}")
    for name, lat in (("direct", gateway_lat), ("via edge", edge_lat)):
        p50 = statistics.median(lat)
        print(f"  p50 {name} / {PLANTNET_S * 1000:.0f} ms = {p50 / PLANTNET_S:.2f}  (goal <= 1.10);"
              f"  p50 / stand-in direct p50 = {p50 / statistics.median(standin_lat):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
