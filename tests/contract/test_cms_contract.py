"""The CMS's DRF endpoints against their OpenAPI document (`/api/v1/cms/openapi.json`, on the CMS's
own port: the edge does not route it)."""

from __future__ import annotations

from tests.contract.support import check, contract_settings, load

schema = load("PLATFORM_CMS_URL", "/api/v1/cms/openapi.json")

# Account-wide settings (time zone, household, the calendar feed's secret URL): the throwaway
# account's, so the demo member's calendar stays as the other suites expect it.
ACCOUNT_WIDE = [
    "PUT /api/v1/garden/profile/",
    "PATCH /api/v1/garden/profile/",
    "POST /api/v1/calendar/ical/",
    "DELETE /api/v1/calendar/ical/",
]


@schema.exclude(name=ACCOUNT_WIDE).parametrize()
@contract_settings
def test_the_cms_keeps_its_contract(case, member_headers: dict[str, str]) -> None:
    check(case, member_headers)


@schema.include(name=ACCOUNT_WIDE).parametrize()
@contract_settings
def test_account_wide_settings_keep_their_contract(case, throwaway_headers: dict[str, str]) -> None:
    check(case, throwaway_headers)
