"""Fixtures of the observability tests: Debian's `prometheus` package provides promtool and prometheus
(CI installs it in .ci/run). Without it, the tests that need them skip, saying so."""

from __future__ import annotations

import shutil

import pytest

MISSING = "{} is not installed: apt-get install --no-install-recommends prometheus (Debian's package brings promtool and prometheus)"


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(MISSING.format("promtool"))
    return found


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip(MISSING.format("prometheus"))
    return found
