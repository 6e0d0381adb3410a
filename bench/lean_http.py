"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections, prebuilt requests.

The load generator shares the machine's two cores with what it measures. httpx's async client
spends a few milliseconds of CPU on a 500 KB upload (its request model, anyio, h11's event
parsing), which shows up as server latency and steals the CPU the server needs. This client
writes a request that was serialised once (`build_request`) with one `write` and reads the answer
with `readuntil`/`readexactly`: what a compiled load generator (wrk, oha) costs, in the standard
library. It speaks only what the benchmarks need: answers with a Content-Length or chunked bodies,
no redirects, no TLS.

Not a general client: the benchmarks' functional checks (statuses, bodies) read `Answer`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes


def build_request(method: str, url: str, *, files: Mapping[str, tuple[str, bytes, str]] | None = None,
                  body: bytes = b"", headers: Mapping[str, str] | None = None) -> bytes:
    """The request's bytes on the wire (multipart encoded by httpx, once)."""
    parts = urlsplit(url)
    if files:
        encoded = httpx.Request(method, url, files=files)
        body = encoded.read()
        headers = {"content-type": encoded.headers["content-type"], **(headers or {})}
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"host: {parts.netloc}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def send(self, request: bytes) -> Answer:
        await self.connect()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(request)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                body = await self._reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._read_chunked()
            else:
                body = b""
            if headers.get("connection", "").lower() == "close":
                self.close()
            return Answer(int(status_line.split(" ", 2)[1]), headers, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            raise

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _warm_pool(url: str, request: bytes, connections: int) -> list[Connection]:
    """`connections` connections, each opened and warmed up with one `request`."""
    pool = [Connection(url) for _ in range(connections)]
    await asyncio.gather(*(c.send(request) for c in pool))
    return pool


async def closed_loop(url: str, request: bytes, *, connections: int, requests: int) -> tuple[list[float], float, dict[int, int]]:
    """`connections` clients, each sending again as soon as it has its answer, `requests` in all.

    Returns (latencies in s, requests per second, status counts)."""
    pool = await _warm_pool(url, request, connections)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = requests

    async def client(connection: Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            answer = await connection.send(request)
            latencies.append(time.perf_counter() - started)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in pool))
    elapsed = time.perf_counter() - started
    for c in pool:
        c.close()
    return latencies, len(latencies) / elapsed, statuses


async def open_loop(url: str, request: bytes, *, connections: int, rate: float, requests: int) -> tuple[list[float], float, dict[int, int]]:
    """`requests` requests started at a fixed aggregate `rate` (req/s) over `connections` connections.

    Arrivals do not slow down when the server does, so queueing shows; each latency counts from the
    request's scheduled time, including any wait for a free connection (no coordinated omission).
    Returns (latencies in s, achieved rate in req/s, status counts)."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    pool = await _warm_pool(url, request, connections)
    for c in pool:
        idle.put_nowait(c)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = await idle.get()
        try:
            answer = await connection.send(request)
        finally:
            idle.put_nowait(connection)
        latencies.append(time.perf_counter() - due)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(requests)))
    achieved = requests / (time.perf_counter() - start)
    for c in pool:
        c.close()
    return latencies, achieved, statuses


async def sequential(url: str, request: bytes, *, requests: int) -> tuple[list[float], dict[int, int]]:
    """One client, one request after the other: the latency without queueing."""
    latencies, _, statuses = await closed_loop(url, request, connections=1, requests=requests)
    return latencies, statuses

