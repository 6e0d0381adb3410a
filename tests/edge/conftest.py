"""Fixtures of the edge tests (helpers: tests/edge/support.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def log_dir(stack_env: Callable[[str], str]) -> Path:
    """Where devstack writes each process's log (`<process>.log`)."""
    return Path(stack_env("PLATFORM_LOG_DIR"))
