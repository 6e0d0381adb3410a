"""The auth service against its OpenAPI document (`/api/v1/auth/openapi.json`), every default check."""

from __future__ import annotations

from tests.contract.support import FUZZER_ADDRESS, Sessions, check, contract_settings, load

schema = load("PLATFORM_AUTH_URL", "/api/v1/auth/openapi.json")

# These end the caller's sessions: the throwaway account signs in again after each that did.
ENDS_SESSIONS = ["POST /api/v1/auth/logout", "POST /api/v1/auth/logout-all"]
# These check the password first (generated ones are always wrong, so nothing changes), and each
# wrong one counts as a failed sign-in: on the demo member they would lock it for the suites after
# this one, so they run on an account of their own, whose lock (429) is documented.
CHECK_PASSWORD = ["POST /api/v1/auth/change-password", "DELETE /api/v1/auth/me"]


@schema.exclude(name=ENDS_SESSIONS + CHECK_PASSWORD).parametrize()
@contract_settings
def test_the_auth_service_keeps_its_contract(case, member_headers: dict[str, str]) -> None:
    check(case, {**member_headers, "X-Forwarded-For": FUZZER_ADDRESS})


@schema.include(name=ENDS_SESSIONS).parametrize()
@contract_settings
def test_session_ending_operations_keep_their_contract(case, throwaway_sessions: Sessions) -> None:
    response = check(case, {**throwaway_sessions.headers(), "X-Forwarded-For": FUZZER_ADDRESS})
    if response.status_code == 204:
        throwaway_sessions.ended()


@schema.include(name=CHECK_PASSWORD).parametrize()
@contract_settings
def test_password_checked_operations_keep_their_contract(case, throwaway_headers: dict[str, str]) -> None:
    check(case, {**throwaway_headers, "X-Forwarded-For": FUZZER_ADDRESS})
