"""Fixtures for the gateway's end-to-end tests: demo users' tokens from the real auth service, the
stand-in's control API, photos, and cleanup of the gateway state these tests change in Redis."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from PIL import Image

IDENTIFY = "/api/v1/plant-identification/identify/"
HEALTH = "/api/v1/plant-identification/identify/health/"
HISTORY = "/api/v1/plant-identification/history/"


@pytest.fixture(scope="session")
def login(edge_url: str, stack_env: Callable[[str], str]) -> Callable[[str], str]:
    """`login("member")`: an access token of a demo account, through the edge (one login per role)."""
    tokens: dict[str, str] = {}

    def token(role: str) -> str:
        if role not in tokens:
            body = {"email": stack_env(f"PLATFORM_DEMO_{role.upper()}_EMAIL"), "password": stack_env(f"PLATFORM_DEMO_{role.upper()}_PASSWORD")}
            response = httpx.post(f"{edge_url}/api/v1/auth/login", json=body, timeout=15)
            if response.status_code in (404, 405, 501):
                pytest.skip(f"the auth service has no login yet (POST /api/v1/auth/login answered {response.status_code})")
            assert response.status_code == 200, response.text
            tokens[role] = response.json()["access_token"]
        return tokens[role]

    return token


@pytest.fixture
def member(login: Callable[[str], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {login('member')}"}


@pytest.fixture
def editor(login: Callable[[str], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {login('editor')}"}


class Standin:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=5)

    def reset(self) -> None:
        self.http.post("/_standin/reset").raise_for_status()

    def set(self, engine: str, mode: str = "ok", **fields: Any) -> None:
        self.http.post("/_standin/control", json={"engine": engine, "mode": mode, **fields}).raise_for_status()

    def calls(self) -> dict[str, int]:
        return {engine: state["calls"] for engine, state in self.http.get("/_standin/control").json().items()}


@pytest.fixture
def gateway_redis(stack_env: Callable[[str], str]) -> Iterator[redis.Redis]:
    """The gateway's Redis database (1), for cleaning up breaker and rate-limit state a test changed."""
    client = redis.Redis.from_url(f"{stack_env('PLATFORM_REDIS_URL')}/1")
    yield client
    client.close()


def _clear(client: redis.Redis, pattern: str) -> None:
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def standin(stack_env: Callable[[str], str], gateway_redis: redis.Redis) -> Iterator[Standin]:
    """The stand-in, normal before and after the test; breakers the test tripped are closed again."""
    control = Standin(stack_env("PLATFORM_STANDIN_URL"))
    control.reset()
    yield control
    control.reset()
    _clear(gateway_redis, "gw:cb:*")
    _clear(gateway_redis, "gw:quota:*")


@pytest.fixture
def clear_anonymous_limit(gateway_redis: redis.Redis) -> Iterator[None]:
    """Anonymous callers all come from 127.0.0.1 here: give that address its budget back afterwards."""
    _clear(gateway_redis, "gw:rl:ip:*")
    yield
    _clear(gateway_redis, "gw:rl:ip:*")


def photo(seed: str | None = None, size: tuple[int, int] = (640, 480)) -> bytes:
    """A busy picture nobody sent before (unless `seed` repeats): cold for the cache."""
    seed = seed or uuid.uuid4().hex
    width, height = size
    noise = hashlib.shake_256(seed.encode()).digest((width // 4) * (height // 4) * 3)
    image = Image.frombytes("RGB", (width // 4, height // 4), noise).resize(size, Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def new_photo() -> Callable[..., bytes]:
    return photo


def upload(data: bytes, name: str = "plant.jpg", content_type: str = "image/jpeg") -> dict[str, tuple[str, bytes, str]]:
    return {"image": (name, data, content_type)}


@pytest.fixture
def files() -> Callable[..., dict[str, tuple[str, bytes, str]]]:
    return upload


def account_token(edge_url: str, *, role: str, email: str | None = None) -> str:
    """A new account (made with the auth service's CLI) signed in through the edge: its own hourly
    identification limit, untouched by the other suites that share the demo member."""
    import os
    import subprocess
    import sys

    email, password = email or f"e2e-{uuid.uuid4().hex[:12]}@e2e.plant.community", f"Pw-{uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-m", "auth_service.cli", "create-user", "--email", email, "--password-env", "ACCOUNT_PASSWORD", "--role", role],
        env={**os.environ, "ACCOUNT_PASSWORD": password}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    response = httpx.post(f"{edge_url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture(scope="session")
def admin_token(edge_url: str) -> str:
    """An administrator's access token."""
    return account_token(edge_url, role="admin")


@pytest.fixture
def fresh_token(edge_url: str) -> str:
    """A new member's access token (a limit of its own)."""
    return account_token(edge_url, role="member")
