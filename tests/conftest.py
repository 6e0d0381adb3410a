"""End-to-end tests: they talk to a running stack (started by `make test`) through the real Traefik."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import httpx
import pytest


def platform_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the end-to-end tests through `make test` (devstack starts the stack and sets it)")
    return value


@pytest.fixture(scope="session")
def stack_env() -> Callable[[str], str]:
    """Look up a variable that devstack set for this stack (fails clearly when run outside it)."""
    return platform_env


@pytest.fixture(scope="session")
def edge_url() -> str:
    return platform_env("PLATFORM_EDGE_URL")


@pytest.fixture
def edge(edge_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge_url, timeout=10) as client:
        yield client
