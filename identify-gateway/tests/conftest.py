"""Fixtures: the real PostgreSQL and Redis named by the GATEWAY_* variables (never mocks), a real
provider stand-in process, and a real JWKS server for tokens minted here.

Isolation: migration tests work in throwaway schemas; app tests share one migrated schema for the
session (every test uses fresh user ids) and get a Redis key prefix of their own, deleted after
the test. The stand-in is one process for the session, reset before each test that uses it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import pytest
from devstack.processes import stop_popen
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REQUIRED = ("GATEWAY_DATABASE_URL", "GATEWAY_REDIS_URL", "GATEWAY_CELERY_BROKER_URL", "GATEWAY_DENYLIST_REDIS_URL")
EXAMPLE = (
    "GATEWAY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5499/gateway "
    "GATEWAY_REDIS_URL=redis://127.0.0.1:6499/1 GATEWAY_CELERY_BROKER_URL=redis://127.0.0.1:6499/2 "
    "GATEWAY_DENYLIST_REDIS_URL=redis://127.0.0.1:6499/4"
)
STANDIN_PLANT_ID_KEY = "test-standin-plant-id-key"
STANDIN_PLANTNET_KEY = "test-standin-plantnet-key"
ISSUER = "plant-community-auth"
IDENTIFY = "/api/v1/plant-identification/identify/"
HEALTH = "/api/v1/plant-identification/identify/health/"
HISTORY = "/api/v1/plant-identification/history/"


def env() -> dict[str, str]:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(f"identify-gateway tests need a real PostgreSQL and Redis: set {', '.join(missing)}, e.g. {EXAMPLE}", pytrace=False)
    return {name: os.environ[name] for name in REQUIRED}


@pytest.fixture(scope="session", autouse=True)
def _require_environment() -> None:
    env()


@pytest.fixture(autouse=True)
def _only_the_scratch_servers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` exports the whole stack's GATEWAY_* settings; these tests choose their own."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_") and n not in REQUIRED]:
        monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def url_in_schema(database_url: str, schema: str) -> str:
    """The same database, with `schema` as the only schema on the search path."""
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """Create an empty schema, yield the URL that works inside it, drop it afterwards."""
    schema = f"gateway_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield url_in_schema(database_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def empty_schema_url() -> Iterator[str]:
    """The URL of a schema of its own, empty (not migrated)."""
    with fresh_schema(env()["GATEWAY_DATABASE_URL"]) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_url() -> Iterator[str]:
    """A schema migrated to head, shared by the app tests of the session."""
    from identify_gateway.migrations import upgrade

    with fresh_schema(env()["GATEWAY_DATABASE_URL"]) as url:
        upgrade(url)
        yield url


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL on a local port nobody listens on."""
    return f"redis://127.0.0.1:{free_port()}/1"


# --- the provider stand-in (a real process) ---------------------------------------------------


class Standin:
    """The stand-in process and its control API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=5)

    def reset(self) -> None:
        self.http.post("/_standin/reset").raise_for_status()

    def set(self, engine: str, mode: str = "ok", **fields: Any) -> None:
        """The engine's whole behaviour (fields left out return to their defaults): delay_s, fail_next, remaining..."""
        self.http.post("/_standin/control", json={"engine": engine, "mode": mode, **fields}).raise_for_status()

    def state(self) -> dict[str, Any]:
        return self.http.get("/_standin/control").json()

    def calls(self) -> dict[str, int]:
        return {engine: state["calls"] for engine, state in self.state().items()}


@pytest.fixture(scope="session")
def standin_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """`uvicorn devstack.provider_standin.app:app` on a free port, for the session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("standin") / "standin.log"
    environment = {**os.environ, "STANDIN_PLANT_ID_API_KEY": STANDIN_PLANT_ID_KEY, "STANDIN_PLANTNET_API_KEY": STANDIN_PLANTNET_KEY}
    argv = [sys.executable, "-m", "uvicorn", "devstack.provider_standin.app:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the provider stand-in did not start; its output:\n{log_path.read_text()}", pytrace=False)
            time.sleep(0.1)
        yield Standin(url)
    finally:
        stop_popen(process)


@pytest.fixture
def standin(standin_process: Standin) -> Standin:
    """The stand-in, back to normal (full quota, no delay, counters at zero)."""
    standin_process.reset()
    return standin_process


# --- tokens: an Ed25519 key of our own and a real JWKS server ---------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenKit:
    """Mints access tokens per the contract in docs/architecture.md ("Tokens")."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        x = b64url(self.private.public_key().public_bytes_raw())
        self.kid = b64url(hashlib.sha256(json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True).encode()).digest())
        self.jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}
        self.url = ""

    def mint(self, user_id: uuid.UUID | str | None = None, *, tier: str = "free", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": ["auth-service", "identify-gateway", "cms"], "sub": str(user_id or uuid.uuid4()),
            "exp": now + 3600, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), "sid": str(uuid.uuid4()),
            "roles": ["member"], "tier": tier, "scope": "user",
        }  # fmt: skip
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid, "typ": "at+jwt"})

    def bearer(self, user_id: uuid.UUID | str | None = None, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(user_id, **claims)}"}

    def service_token(self) -> str:
        now = int(time.time())
        return jwt.encode(
            {"iss": ISSUER, "aud": "identify-gateway", "sub": "svc-cms", "client_id": "svc-cms", "scope": "internal",
             "exp": now + 300, "iat": now, "nbf": now, "jti": str(uuid.uuid4())},
            self.private, algorithm="EdDSA", headers={"kid": self.kid, "typ": "at+jwt"},
        )  # fmt: skip


@pytest.fixture(scope="session")
def tokens() -> Iterator[TokenKit]:
    """A signing key and its JWKS, served by a small real HTTP server for the session."""
    kit = TokenKit()
    body = json.dumps(kit.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kit.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield kit
    finally:
        server.shutdown()
        server.server_close()


# --- photos -------------------------------------------------------------------------------------


def photo(seed: int = 0, *, size: tuple[int, int] = (640, 480), fmt: str = "JPEG", **save: Any) -> bytes:
    """A deterministic, busy picture (the stand-in calls near-uniform pictures "not a plant")."""
    width, height = size
    noise = hashlib.shake_256(f"photo-{seed}".encode()).digest(width * height * 3 // 16 + 3)
    small = Image.frombytes("RGB", (width // 4, height // 4), noise[: (width // 4) * (height // 4) * 3])
    image = small.resize(size, Image.Resampling.NEAREST)
    if fmt == "PNG" and save.pop("alpha", False):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def uniform_photo(size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (240, 240, 240)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def photos() -> SimpleNamespace:
    return SimpleNamespace(photo=photo, uniform=uniform_photo)


# --- the app ------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:gw:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(env()["GATEWAY_REDIS_URL"])
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def make_settings(redis_prefix: str, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Settings for the scratch servers, with `overrides` on top.

    The database is the session's migrated schema. When the test uses the `standin` fixture, the
    engines point at it; when it uses `tokens`, the JWKS is the session's. GBIF and the CMS are off
    unless a test turns them on.
    """
    from identify_gateway.config import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": env()["GATEWAY_DATABASE_URL"],
            "redis_url": env()["GATEWAY_REDIS_URL"],
            "celery_broker_url": env()["GATEWAY_CELERY_BROKER_URL"],
            "denylist_redis_url": env()["GATEWAY_DENYLIST_REDIS_URL"],
            "redis_key_prefix": redis_prefix,
            "gbif_enabled": False,
            "cms_internal_url": None,
        }
        values["database_url"] = request.getfixturevalue("migrated_url")  # one migrated schema for the session
        if "standin" in request.fixturenames:
            standin: Standin = request.getfixturevalue("standin")
            values.update(
                plant_id_base_url=f"{standin.url}/api/v3", plant_id_api_key=STANDIN_PLANT_ID_KEY,
                plantnet_base_url=f"{standin.url}/v2", plantnet_api_key=STANDIN_PLANTNET_KEY,
            )  # fmt: skip
        if "tokens" in request.fixturenames:
            values["jwks_url"] = request.getfixturevalue("tokens").url
        return Settings(**{**values, **overrides})

    return make


def build_app(settings: Any) -> FastAPI:
    # Imported late: importing the module builds `main.app`, which is harmless, but keeps
    # collection free of the service's imports when the environment is missing.
    from identify_gateway.main import create_app

    return create_app(settings)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """Run the app's lifespan (engine, Redis, engine clients) and talk to it in-process."""
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://gateway.test", timeout=30) as client:
            yield client


@pytest.fixture
def make_app(make_settings: Callable[..., Any]) -> Callable[..., FastAPI]:
    """`make_app(**setting_overrides)`: an app on the scratch servers."""
    return lambda **overrides: build_app(make_settings(**overrides))


@pytest.fixture
def running() -> Callable[[FastAPI], Any]:
    """`async with running(app) as client:` for tests that build their own app."""
    return serve


@pytest.fixture
async def client(make_settings: Callable[..., Any]) -> AsyncIterator[AsyncClient]:
    async with serve(build_app(make_settings())) as client:
        yield client


class Captured:
    """Every request the gateway sent to the engines, with its body (observed on the real clients)."""

    def __init__(self) -> None:
        self.requests: dict[str, list[tuple[httpx.Request, bytes]]] = {"plant_id": [], "plantnet": []}

    def attach(self, resources: Any) -> Captured:
        for engine, http in (("plant_id", resources.plant_id_http), ("plantnet", resources.plantnet_http)):
            async def hook(request: httpx.Request, engine: str = engine) -> None:
                self.requests[engine].append((request, await request.aread()))

            http.event_hooks["request"].append(hook)
        return self

    def plant_id_images(self) -> list[bytes]:
        """The images of every Plant.id identification (decoded from the JSON body's base64)."""
        out = []
        for request, body in self.requests["plant_id"]:
            if request.url.path.endswith("/identification"):
                out.extend(base64.b64decode(i) for i in json.loads(body)["images"])
        return out

    def plantnet_parts(self) -> list[tuple[str, bytes]]:
        """(name, content) of every multipart part sent to Pl@ntNet."""
        from email.parser import BytesParser
        from email.policy import HTTP

        out = []
        for request, body in self.requests["plantnet"]:
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            for part in message.iter_parts():
                out.append((part.get_param("name", header="content-disposition"), part.get_payload(decode=True)))
        return out


def upload(*images: bytes, name: str = "plant.jpg", content_type: str = "image/jpeg", field: str | None = None) -> list[tuple[str, Any]]:
    """Multipart files for httpx: one image as `image`, several as `images`."""
    key = field or ("image" if len(images) == 1 else "images")
    return [(key, (f"{n}-{name}", data, content_type)) for n, data in enumerate(images)]


@pytest.fixture
def kit() -> SimpleNamespace:
    """Helpers for test modules (the importlib import mode cannot import conftest)."""
    return SimpleNamespace(
        upload=upload, photo=photo, uniform=uniform_photo, capture=lambda resources: Captured().attach(resources),
        IDENTIFY=IDENTIFY, HEALTH=HEALTH, HISTORY=HISTORY,
    )  # fmt: skip


class RedisProxy:
    """A TCP proxy in front of the real Redis that a test can cut and restore: a network blip
    between one gateway process and Redis, with Redis itself (and its keys) untouched.

    Cut: every open connection is dropped and new ones are refused until `restore()`.
    """

    def __init__(self, target_url: str) -> None:
        self._target_url = urlparse(target_url)
        self.target = (self._target_url.hostname or "127.0.0.1", self._target_url.port or 6379)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The target's URL (same database and credentials) through the proxy."""
        credentials = self._target_url.netloc.rpartition("@")[0]
        return self._target_url._replace(netloc=f"{credentials}{'@' if credentials else ''}127.0.0.1:{self.port}").geturl()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def restore(self) -> None:
        await self.start()  # the same port

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._transports.update({client_writer.transport, upstream_writer.transport})
        await asyncio.gather(_pump(client_reader, upstream_writer), _pump(upstream_reader, client_writer))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[RedisProxy]:
    """A cuttable path to the Redis of GATEWAY_REDIS_URL (see `RedisProxy`)."""
    proxy = RedisProxy(os.environ["GATEWAY_REDIS_URL"])
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()
