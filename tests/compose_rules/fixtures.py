"""Fixtures the compose test modules share: import them into a test module to use them there."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import yaml

from tests.compose_rules.load import Compose, load_compose
from tests.compose_rules.readers import command_args, container_to_host, traefik_service


@pytest.fixture(scope="module")
def doc() -> Compose:
    return load_compose()


@pytest.fixture(scope="module")
def static_config(doc: Compose) -> dict[str, Any] | None:
    edge = traefik_service(doc)
    config_args = [arg.split("=", 1)[1] for arg in command_args(edge[1]) if arg.lower().startswith("--configfile=")] if edge else []
    found = container_to_host(edge[1], config_args[0]) if config_args else None
    return yaml.safe_load(found[0].read_text()) if found and found[0].is_file() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
