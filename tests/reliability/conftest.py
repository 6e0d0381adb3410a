"""The reliability suite: real load through the edge while parts of the platform are killed.

It starts its OWN stack (profile `reliability`, fresh data, its own ports) in this pytest process,
which is therefore the supervisor: a scenario kills and restarts any process by name. Run it alone:

    .venv/bin/python -m pytest tests/reliability -q -p no:cacheprovider

Fixtures for scenario modules (see tests/reliability/loadgen.py for the load itself):
- `stack`: the running `devstack.stack.Stack`; `stack.process("redis").kill()` then `.restart()`
  (names: postgres, redis, auth-service, identify-gateway, cms, gateway-worker, gateway-beat,
  provider-standin, traefik, …). A scenario must leave every process running and ready.
- `edge_url`, `stack_env`: as in the other end-to-end suites (PLATFORM_* of this stack).
- `login(role)`, `member_account()`: access tokens (the gateway suite's helpers, reused).
- `standin`: the engines' stand-in control API (`tests/gateway/conftest.py`'s `Standin`).
- `print_report(report)`: prints a `loadgen.Report` in pytest's own output, `-s` or not.

The stack runs with the edge's per-IP limit and the gateway's hourly limits raised: the load comes
from one address and a few accounts, and those limits are not what these scenarios test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest

from devstack.layout import profile
from devstack.stack import Stack, reset
from tests.gateway.conftest import Standin, account_token, login  # noqa: F401 - `login` is a fixture, re-used here
from tests.reliability.loadgen import Report

PROFILE = os.environ.get("RELIABILITY_PROFILE", "reliability")
STACK_SETTINGS = {
    "EDGE_RATE_LIMIT_AVERAGE": "100000",
    "EDGE_RATE_LIMIT_BURST": "100000",
    "GATEWAY_TIER_LIMITS": json.dumps({tier: 1_000_000 for tier in ("free", "member", "pro", "premium", "enterprise")}),
    "GATEWAY_ANONYMOUS_LIMIT": "1000000",
    # test_engine_faults.py: a breaker's open period is seen to end (one probe, then closed) within
    # the suite's time budget; the production default is 60 s. No other scenario trips a breaker.
    "GATEWAY_BREAKER_RESET_TIMEOUT_S": "4",
    # test_worker_killed.py: a killed worker's messages come back after this (600 s by default);
    # job retry backoffs stay shorter, as docs/jobs.md requires.
    "GATEWAY_CELERY_VISIBILITY_TIMEOUT_S": "15",
    "GATEWAY_JOB_RETRY_MAX_S": "10",
}
# Starting a fresh stack on two busy cores takes a while; it counts against the first test's timeout.
SCENARIO_TIMEOUT_S = 360


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.timeout(SCENARIO_TIMEOUT_S))


@pytest.fixture(scope="session", autouse=True)
def stack() -> Iterator[Stack]:
    prof = profile(PROFILE)
    reset(prof)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in STACK_SETTINGS.items():
            patch.setenv(name, value)
        running = Stack(prof)
        try:
            running.up(log=lambda _line: None)
            # The tests (and the CLIs they run, e.g. `auth_service.cli create-user`) talk to this stack.
            for name, value in running.client_env().items():
                patch.setenv(name, value)
            yield running
        finally:
            running.down()


@pytest.fixture(scope="session")
def edge_url(stack: Stack) -> str:
    return stack.profile.edge_url


@pytest.fixture(scope="session")
def member_account(edge_url: str) -> Callable[[], str]:
    """`member_account()`: a new member's access token (its own garden, history and limits)."""
    return lambda: account_token(edge_url, role="member")


@pytest.fixture
def standin(stack_env: Callable[[str], str]) -> Iterator[Standin]:
    control = Standin(stack_env("PLATFORM_STANDIN_URL"))
    control.reset()
    yield control
    control.reset()


@pytest.fixture
def print_report(request: pytest.FixtureRequest) -> Callable[[Report], None]:
    plugins = request.config.pluginmanager
    terminal, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def show(report: Report) -> None:
        with capture.global_and_fixture_disabled():  # straight to the terminal, `-s` or not
            terminal.ensure_newline()
            for line in report.lines():
                terminal.write_line(line)

    return show
