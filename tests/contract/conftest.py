"""Schemathesis against each service's own OpenAPI document, with real tokens of the running stack.

Requests go to the services' direct ports (`PLATFORM_AUTH_URL`, …), not through the edge: the edge
routes by prefix and adds headers, nothing any document describes, while its per-IP limit would
throttle a fuzzer long before the services are exercised (the CMS's document is not routed at all).

Two identities:
- a member registered here, for everything that reads or changes one resource at a time;
- a throwaway account (registered here), for operations that end sessions or wipe account-wide
  state (log out, change password, delete everything…), so the first one stays usable.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.contract.support import Sessions, new_account


@pytest.fixture(scope="session")
def member_headers(stack_env: Callable[[str], str]) -> dict[str, str]:
    """A member of the suite's own (one sign-in for the whole suite): the fuzzer spends its hourly
    identification budget, which the demo member's must keep for the suites after this one."""
    return new_account(stack_env("PLATFORM_AUTH_URL"))()


@pytest.fixture(scope="session")
def throwaway_sessions(stack_env: Callable[[str], str]) -> Sessions:
    """For cases that end the account's sessions (log out, log out everywhere)."""
    return Sessions(new_account(stack_env("PLATFORM_AUTH_URL")))


@pytest.fixture(scope="session")
def throwaway_headers(stack_env: Callable[[str], str]) -> dict[str, str]:
    """Another account's token, for cases that change account-wide state or check its password.

    Wrong passwords lock this account (429, documented) without touching the one signed in above.
    """
    return new_account(stack_env("PLATFORM_AUTH_URL"))()
