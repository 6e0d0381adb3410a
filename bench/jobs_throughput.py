"""Jobs throughput: N asynchronous identifications submitted at once through the edge, the stand-in
answering in 500 ms (both engines), every photo a cache miss.

Figures: all jobs complete; submit → `completed` p50 and p95 (the job's own `created_at` →
`completed_at`, both written by PostgreSQL); wall time; jobs per second, and per worker process.
Baseline in the same run: one synchronous identification's latency (`POST …/identify/`) with the
same stand-in, i.e. what one job costs a worker process when nothing waits in a queue.

Run inside a stack: `EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 python -m devstack run
--profile test -- python bench/jobs_throughput.py` (the edge's per-IP limit, 50/s by default, would
otherwise throttle a burst from the one address the benchmark has; 429s are retried and counted).
Bounded: it stops after `--timeout` seconds whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import datetime

import httpx

from jobs_common import JOBS, env, fresh_tokens, percentile, photo, standin, start_threads_worker, worker_processes


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def baseline(client: httpx.AsyncClient, token: str, rounds: int = 5) -> float:
    """Median latency of a synchronous identification of a new photo (seconds)."""
    latencies = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.post("/api/v1/plant-identification/identify/", files={"image": ("b.jpg", photo(uuid.uuid4().hex), "image/jpeg")},
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        response.raise_for_status()
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.5, help="stand-in latency of each engine (s)")
    parser.add_argument("--accounts", type=int, default=4, help="fresh accounts sharing the jobs (each has 100 per hour)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--threads-worker", type=int, default=0, metavar="N",
                        help="also run one extra worker process with the threads pool (N jobs at once) for the run")
    args = parser.parse_args()
    edge = env("PLATFORM_EDGE_URL")
    extra = start_threads_worker(args.threads_worker) if args.threads_worker else None
    if extra is not None:
        time.sleep(8)  # let it connect before the burst
    standin(plant_id={"delay_s": args.delay}, plantnet={"delay_s": args.delay})
    tokens = fresh_tokens(args.accounts + 1)
    photos = [photo(f"throughput-{uuid.uuid4().hex}") for _ in range(args.jobs)]
    processes = worker_processes()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    throttled: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=edge, limits=limits, timeout=30) as client:
            one = await baseline(client, tokens[-1])

            async def submit(n: int) -> tuple[str, str]:
                token = tokens[n % args.accounts]
                for _ in range(30):  # the edge's per-IP rate limit (429) may push back on a burst from one address
                    response = await client.post(JOBS, files={"image": (f"{n}.jpg", photos[n], "image/jpeg")}, headers={"Authorization": f"Bearer {token}"})
                    if response.status_code != 429:
                        break
                    throttled.append(n)
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                response.raise_for_status()
                return response.json()["id"], token

            started = time.perf_counter()
            submitted = await asyncio.gather(*(submit(n) for n in range(args.jobs)))
            submit_s = time.perf_counter() - started
            documents: dict[str, dict] = {}
            deadline = time.monotonic() + args.timeout
            # Progress is read from the gateway itself (not through the edge, whose per-IP limit would
            # throttle the poller); the figures come from the jobs' own timestamps anyway.
            async with httpx.AsyncClient(base_url=env("PLATFORM_GATEWAY_URL"), limits=limits, timeout=30) as internal:
                while len(documents) < len(submitted) and time.monotonic() < deadline:
                    await asyncio.sleep(1.0)
                    pending = [(j, t) for j, t in submitted if j not in documents]
                    for (job_id, _), response in zip(pending, await asyncio.gather(
                        *(internal.get(f"{JOBS}{j}/", headers={"Authorization": f"Bearer {t}"}) for j, t in pending), return_exceptions=True
                    ), strict=True):  # fmt: skip
                        if isinstance(response, BaseException):
                            continue  # a keep-alive connection the server had just closed: asked again next round
                        if response.status_code == 200 and response.json()["status"] in ("completed", "failed"):
                            documents[job_id] = response.json()
            wall_s = time.perf_counter() - started
    finally:
        standin()
        if extra is not None:
            extra.terminate()
            extra.wait(timeout=30)
    completed = [d for d in documents.values() if d["status"] == "completed"]
    latencies = [_ts(d["completed_at"]) - _ts(d["created_at"]) for d in completed]
    first = min(_ts(d["created_at"]) for d in completed)
    last = max(_ts(d["completed_at"]) for d in completed)
    rate = len(completed) / (last - first)
    print(f"{args.jobs} jobs submitted at once through the edge ({submit_s:.1f} s to get every 202, {len(throttled)} edge 429s retried), "
          f"stand-in {args.delay * 1000:.0f} ms per engine")
    print(f"  completed {len(completed)}/{args.jobs}, failed {sum(d['status'] == 'failed' for d in documents.values())}, "
          f"unfinished {args.jobs - len(documents)}")  # fmt: skip
    print(f"  submit → completed: p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s")
    print(f"  wall time {wall_s:.1f} s; throughput {rate:.2f} jobs/s with {processes} worker processes = {rate / max(1, processes):.2f} jobs/s per process")
    print(f"  baseline: one synchronous identification {one * 1000:.0f} ms → at most {1 / one:.2f} jobs/s per process if a job costs the same")


if __name__ == "__main__":
    asyncio.run(main())
