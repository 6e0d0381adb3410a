"""WebSocket fan-out: N listeners on N jobs through the edge (one socket per job), no lost events.

Each job is submitted and its socket opened right away; the worker drains the queue meanwhile.
Checks: every listener receives its `completed`, with `seq` 1, 2, 3… and no gap or duplicate.
Latency from the worker's publish to the client's receive is measured on live events (they carry
`published_at`; events replayed to a listener that connected after they happened do not), p50/p99.

Run inside a stack: `EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 python -m devstack run
--profile test -- python bench/ws_fanout.py` (the edge's per-IP limit, 50/s by default, would
otherwise throttle the one address the benchmark has; 429s are waited out, retried and counted).
Bounded: it stops after `--timeout` seconds whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from jobs_common import JOBS, env, fresh_tokens, percentile, photo, standin


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.0, help="stand-in latency of each engine (s)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    edge = env("PLATFORM_EDGE_URL")
    ws_edge = "ws" + edge[4:]
    standin(plant_id={"delay_s": args.delay}, plantnet={"delay_s": args.delay})
    tokens = fresh_tokens(-(-args.listeners // 90))  # 90 jobs per account: under the hourly limit of 100
    photos = [photo(f"fanout-{uuid.uuid4().hex}", size=(320, 240)) for _ in range(args.listeners)]
    latencies: list[float] = []
    outcomes: dict[int, str] = {}
    reconnects: list[int] = []
    throttled: list[int] = []
    gate = asyncio.Semaphore(50)  # submissions and handshakes in flight at once

    async def listener(n: int, client: httpx.AsyncClient) -> None:
        token = tokens[n % len(tokens)]
        async with gate:
            for _ in range(30):  # the edge's per-IP rate limit may push back (429): wait as told
                response = await client.post(JOBS, files={"image": (f"{n}.jpg", photos[n], "image/jpeg")}, headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 429:
                    break
                throttled.append(n)
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            response.raise_for_status()
            job_id = response.json()["id"]
        seqs: list[int] = []
        for _ in range(5):  # as a client should: reconnect on 1013 (try again later) or a dropped connection
            async with gate:
                for _ in range(30):
                    try:
                        socket = await connect(f"{ws_edge}/ws/v1/identifications/{job_id}", subprotocols=["bearer", token], open_timeout=30, max_size=2**22)  # type: ignore[list-item]
                        break
                    except InvalidStatus as exc:
                        if exc.response.status_code != 429:
                            raise
                        throttled.append(n)
                        await asyncio.sleep(1)
            try:
                async for raw in socket:
                    received = time.time()
                    message = json.loads(raw)
                    if seqs and message["seq"] <= seqs[-1]:
                        continue  # replayed after a reconnect: already seen
                    seqs.append(message["seq"])
                    if "published_at" in message:
                        latencies.append(received - message["published_at"])
                    if message["event"] in ("completed", "failed"):
                        outcomes[n] = message["event"] if seqs == list(range(1, len(seqs) + 1)) else f"{message['event']} with seq {seqs}"
            finally:
                await socket.close()
            if n in outcomes or socket.close_code not in (1013, 1006, 1011, None):
                break
            reconnects.append(socket.close_code or 0)
        outcomes.setdefault(n, f"closed ({socket.close_code}) without a terminal event after seq {seqs}")

    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(base_url=edge, limits=httpx.Limits(max_connections=60), timeout=60) as client:
            tasks = [asyncio.create_task(listener(n, client)) for n in range(args.listeners)]
            done, pending = await asyncio.wait(tasks, timeout=args.timeout)
            for task in pending:
                task.cancel()
            errors = [t.exception() for t in done if t.exception() is not None]
    finally:
        standin()
    wall_s = time.perf_counter() - started
    completed = sum(1 for o in outcomes.values() if o == "completed")
    lost = [o for o in outcomes.values() if o != "completed"]
    print(f"{args.listeners} listeners on {args.listeners} jobs through the edge, stand-in {args.delay * 1000:.0f} ms, {wall_s:.1f} s")
    print(f"  each got its `completed` in order: {completed}/{args.listeners}; problems: {len(lost) + len(pending) + len(errors)}"
          + (f" e.g. {(lost + [repr(e) for e in errors])[:3]}" if lost or errors else ""))  # fmt: skip
    print(f"  edge 429s waited out and retried: {len(throttled)}")
    print(f"  reconnects after a close code asking for it (1013 tokens not checkable under load, 1006 dropped): {len(reconnects)} {sorted(set(reconnects))}")
    if latencies:
        print(f"  live events {len(latencies)}: publish → receive p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
