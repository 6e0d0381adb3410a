"""Shared helpers of the gateway benchmarks (bench/gateway_*.py): images, uploads, stand-in control, stats.

Not a benchmark itself. Every gateway script runs inside a stack started by devstack (profile `bench`),
which puts PLATFORM_EDGE_URL, PLATFORM_GATEWAY_URL, PLATFORM_STANDIN_URL, PLATFORM_REDIS_URL and the
gateway's GATEWAY_* settings in the environment.
"""

from __future__ import annotations

import io
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Iterator

import httpx
from devstack.processes import stop_popen
from PIL import Image

IDENTIFY_PATH = "/api/v1/plant-identification/identify/"


def env(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        sys.exit(f"{name} is not set: run inside `python -m devstack run --profile bench -- …`")


def edge_url() -> str:
    return env("PLATFORM_EDGE_URL")


def gateway_url() -> str:
    return env("PLATFORM_GATEWAY_URL")


def standin_url() -> str:
    return env("PLATFORM_STANDIN_URL")


# ---- images --------------------------------------------------------------------------------------


def noise_jpeg(target_bytes: int, *, seed: int, side: int = 1000) -> bytes:
    """A JPEG of random noise whose size is close to `target_bytes` (quality tuned by bisection).

    Noise is incompressible, so a few hundred KB needs only a modest pixel count; `seed` makes
    every image distinct (distinct SHA-256, hence a cache miss)."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    low, high, best = 5, 95, b""
    while low <= high:
        quality = (low + high) // 2
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        if not best or abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if len(data) < target_bytes:
            low = quality + 1
        else:
            high = quality - 1
    return best


def small_jpeg(seed: int, *, side: int = 320) -> bytes:
    """A small, distinct, photo-sized-enough JPEG (a gradient with a seeded offset): fast to decode."""
    rng = random.Random(seed)
    base = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    image = Image.new("RGB", (side, side), base)
    image.putpixel((rng.randrange(side), rng.randrange(side)), (255 - base[0], 255 - base[1], 255 - base[2]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# ---- requests ------------------------------------------------------------------------------------


def client(base_url: str, *, concurrency: int, timeout: float = 60.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout)


def image_files(image: bytes) -> dict[str, tuple[str, bytes, str]]:
    """The multipart form of an identification: one JPEG in the `image` field."""
    return {"image": ("plant.jpg", image, "image/jpeg")}


async def identify(http: httpx.AsyncClient, image: bytes, *, path: str = IDENTIFY_PATH) -> httpx.Response:
    return await http.post(path, files=image_files(image))


def identify_request(base_url: str, image: bytes) -> bytes:
    """An identification of `image` at `base_url`, prebuilt for `lean_http` (encoded before any timing)."""
    import lean_http  # here, not at the top: the end-to-end tests import this module as `bench.gateway_common`

    return lean_http.build_request("POST", base_url + IDENTIFY_PATH, files=image_files(image))


def standin(path: str, body: Mapping[str, object] | None = None) -> dict:
    url = standin_url() + path
    response = httpx.post(url, json=body, timeout=10) if body is not None or path.endswith("reset") else httpx.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def standin_control(engine: str, mode: str = "ok", **fields: object) -> dict:
    return standin("/_standin/control", {"engine": engine, "mode": mode, **fields})


def standin_reset() -> dict:
    return standin("/_standin/reset")


def standin_calls() -> dict[str, int]:
    return {name: int(state["calls"]) for name, state in standin("/_standin/control").items()}


# ---- statistics ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))
    return ordered[index]


def summary_ms(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms (n={len(ms)})"


# ---- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_listening_on(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:`port` (from /proc: no extra tools needed)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                local, state = parts[1], parts[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inode = parts[9]
                    break
        if inode:
            break
    if inode is None:
        raise RuntimeError(f"nothing listens on port {port}")
    target = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(pid)
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
    raise RuntimeError(f"no process found for port {port}")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 onwards
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time used so far by every process on the machine, all cores together (from /proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def stack_pids(env_urls: Mapping[str, str]) -> dict[str, int]:
    """{name: pid} of the stack's processes listening on the ports of these URLs (those found)."""
    pids = {}
    for name, variable in env_urls.items():
        url = os.environ.get(variable)
        if url:
            try:
                pids[name] = pid_listening_on(int(url.rsplit(":", 1)[1].split("/", 1)[0]))
            except RuntimeError:
                continue
    return pids


@contextmanager
def uvicorn_process(app: str, *, port: int, extra_env: Mapping[str, str] | None = None, app_dir: str | None = None) -> Iterator[subprocess.Popen]:
    """Start `uvicorn app` on 127.0.0.1:`port` with this environment (plus `extra_env`); stopped on exit."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    if app_dir:
        command += ["--app-dir", app_dir]
    log = open(f"/tmp/bench-{app.split(':')[0].replace('.', '_')}-{port}.log", "wb")  # its access log stays out of the figures
    process = subprocess.Popen(command, env={**os.environ, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start on port {port}")
            time.sleep(0.2)
        yield process
    finally:
        stop_popen(process)
        log.close()
