"""Figure 5: a decompression bomb (~600 KB PNG, 14000x14000) and a 10 MB photo each raise the gateway's RSS by < 50 MB.

Reads VmRSS of the gateway process (the one listening on PLATFORM_GATEWAY_URL's port) from /proc
before and after each upload, and samples it every 2 ms while the request runs (peak). Baseline in
the same run: the same process after a small warm-up identification.
Run: GATEWAY_ANONYMOUS_LIMIT=1000000 python -m devstack run --profile bench -- python bench/gateway_memory.py
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import zlib
from urllib.parse import urlsplit

import gateway_common as g


def png_bomb(width: int = 14_000, height: int = 14_000) -> bytes:
    """An RGB PNG of width x height black pixels, streamed row by row (never held decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte + pixels
    parts = [compressor.compress(row * 500) for _ in range(height // 500)]
    parts.append(compressor.compress(row * (height % 500)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, g.rss_kb(self.pid))
            time.sleep(0.002)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def main() -> None:
    pid = g.pid_listening_on(urlsplit(g.gateway_url()).port)
    bomb = png_bomb()
    seed = time.time_ns()
    photos = [g.noise_jpeg(10_000_000, seed=seed + i, side=2950) for i in range(3)]
    print(f"gateway pid {pid}; bomb PNG {len(bomb)} bytes (14000x14000 RGB); photos {[len(p) for p in photos]} bytes")
    g.standin_reset()
    results = []
    async with g.client(g.gateway_url(), concurrency=1, timeout=120) as http:
        for i in range(3):  # warm up: code paths, pools, allocator arenas
            (await g.identify(http, g.noise_jpeg(500_000, seed=seed + 100 + i))).raise_for_status()
        baseline = g.rss_kb(pid)
        print(f"  RSS after warm-up (baseline): {baseline / 1024:.1f} MB")
        cases = [("bomb", bomb, "image/png", "bomb.png")] + [(f"10 MB photo #{i + 1}", p, "image/jpeg", "photo.jpg") for i, p in enumerate(photos)]
        for name, data, ctype, filename in cases:
            before = g.rss_kb(pid)
            with Sampler(pid) as sampler:
                started = time.perf_counter()
                response = await http.post(g.IDENTIFY_PATH, files={"image": (filename, data, ctype)})
                elapsed = time.perf_counter() - started
            await asyncio.sleep(0.5)
            after = g.rss_kb(pid)
            detail = response.json().get("code") or response.json().get("detail") or ("cached" if response.json().get("cached") else "")
            results.append((name, before, sampler.peak, after))
            print(f"  {name:15s}: HTTP {response.status_code} {str(detail)[:60]!r} in {elapsed * 1000:.0f} ms; RSS before {before / 1024:.1f} MB,"
                  f" peak {sampler.peak / 1024:.1f} MB (+{(sampler.peak - before) / 1024:.1f}), after {after / 1024:.1f} MB (+{(after - before) / 1024:.1f})")
    print("\nMemory (goal: each raises RSS by < 50 MB):")
    for name, before, peak, after in results:
        print(f"  {name:15s}: peak +{(peak - before) / 1024:.1f} MB, retained +{(after - before) / 1024:.1f} MB")
    print(f"  total growth over the run vs baseline: {(g.rss_kb(pid) - baseline) / 1024:+.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
