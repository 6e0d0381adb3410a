"""The identification gateway against its OpenAPI document (`/api/v1/plant-identification/openapi.json`).

The demo member's hourly identification budget (100) bounds the identification operations: with
`MAX_EXAMPLES` cases each, the suite spends a few dozen units at most (generated photos are not
images, so no engine is ever called).
"""

from __future__ import annotations

from tests.contract.support import check, contract_settings, load

schema = load("PLATFORM_GATEWAY_URL", "/api/v1/plant-identification/openapi.json")

# Wipes the caller's whole history: the throwaway account's, not the demo member's.
WIPES_HISTORY = ["DELETE /api/v1/plant-identification/history/"]


@schema.exclude(name=WIPES_HISTORY).parametrize()
@contract_settings
def test_the_gateway_keeps_its_contract(case, member_headers: dict[str, str]) -> None:
    check(case, member_headers)


@schema.include(name=WIPES_HISTORY).parametrize()
@contract_settings
def test_wiping_the_history_keeps_its_contract(case, throwaway_headers: dict[str, str]) -> None:
    check(case, throwaway_headers)
