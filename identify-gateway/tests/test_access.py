"""Who may identify and how often: tokens verified against a real JWKS server and the real
deny-list Redis, anonymous callers per IP, per-tier limits with the seed's 429, concurrency caps."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis

AUTH_REQUIRED = "Authentication required for plant identification. Please log in or create an account to identify plants."
THROTTLED = re.compile(r"Request was throttled\. Expected available in (\d+) seconds\.")


@pytest.fixture
def deny() -> Iterator[Callable[[str], None]]:
    """Write deny-list keys in the real deny-list database (TTL 60 s), removed afterwards."""
    client = redis.Redis.from_url(os.environ["GATEWAY_DENYLIST_REDIS_URL"])
    written: list[str] = []

    def write(key: str) -> None:
        written.append(key)
        client.set(key, "1", ex=60)

    yield write
    if written:
        client.delete(*written)
    client.close()


async def test_without_a_token_production_style_answers_401_with_the_seed_sentence(
    standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace
) -> None:
    async with running(make_app(anonymous_allowed=False)) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(60)))

    assert response.status_code == 401
    assert response.json() == {"detail": AUTH_REQUIRED, "code": "not_authenticated"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert standin.calls()["plant_id"] == 0


async def test_a_valid_token_identifies(standin: Any, tokens: Any, migrated_url: str, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app(anonymous_allowed=False)) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(61)), headers=tokens.bearer())

    assert response.status_code == 200, response.text
    assert response.headers["RateLimit-Limit"] == "100"  # the seed's figure for members


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": 1_000_000_000, "iat": 999_999_000, "nbf": 999_999_000}, "token_expired"),
        ({"aud": ["cms"]}, "token_invalid"),
        ({"iss": "someone-else"}, "token_invalid"),
    ],
)
async def test_a_bad_token_is_401_even_when_anonymous_callers_are_allowed(
    standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace, claims: dict[str, Any], code: str
) -> None:
    async with running(make_app(anonymous_allowed=True)) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(62)), headers=tokens.bearer(**claims))

    assert response.status_code == 401
    assert response.json()["code"] == code


async def test_a_revoked_token_is_refused(
    standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace, deny: Callable[[str], None]
) -> None:
    jti = str(uuid.uuid4())
    deny(f"deny:jti:{jti}")
    async with running(make_app()) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(63)), headers=tokens.bearer(jti=jti))

    assert response.status_code == 401 and response.json()["code"] == "token_revoked"


async def test_a_service_token_cannot_identify(standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    async with running(make_app()) as client:
        response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(64)), headers={"Authorization": f"Bearer {tokens.service_token()}"})

    assert response.status_code == 403


async def test_anonymous_callers_are_limited_per_ip_with_the_seed_429(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    # Given anonymous callers allowed, 2 per window, behind the trusted edge
    edge = {"X-Forwarded-For": "203.0.113.7"}
    async with running(make_app(anonymous_allowed=True, anonymous_limit=2)) as client:
        statuses = [(await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(65 + n)), headers=edge)).status_code for n in range(2)]
        # When a third request comes from the same client
        refused = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(67)), headers=edge)
        # Then another client (a forged first hop is ignored: the edge's last hop counts) still gets in
        other = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(68)), headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.9"})

    assert statuses == [200, 200]
    assert refused.status_code == 429
    match = THROTTLED.fullmatch(refused.json()["detail"])
    assert match and refused.json()["code"] == "throttled"
    assert refused.headers["Retry-After"] == match.group(1) and 3500 <= int(match.group(1)) <= 3600
    assert refused.headers["RateLimit-Limit"] == "2" and refused.headers["RateLimit-Remaining"] == "0"
    assert int(refused.headers["RateLimit-Reset"]) > 0
    assert other.status_code == 200
    assert standin.calls()["plant_id"] == 3


async def test_users_are_limited_by_their_tier(standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    free, pro = tokens.bearer(tier="free"), tokens.bearer(tier="pro")
    async with running(make_app(tier_limits={"free": 1, "pro": 3})) as client:
        free_statuses = [(await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(70 + n)), headers=free)).status_code for n in range(2)]
        pro_response = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(72)), headers=pro)

    assert free_statuses == [200, 429]
    assert pro_response.status_code == 200 and pro_response.headers["RateLimit-Limit"] == "3"


async def test_paid_tiers_have_a_cap_on_identifications_in_flight(standin: Any, tokens: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plant_id", "ok", delay_s=0.5)
    user = uuid.uuid4()
    headers = tokens.bearer(user, tier="pro")
    async with running(make_app(tier_concurrency={"pro": 1})) as client:
        responses = await asyncio.gather(*(client.post(kit.IDENTIFY, files=kit.upload(kit.photo(73 + n)), headers=headers) for n in range(2)))
        after = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(75)), headers=headers)

    assert sorted(r.status_code for r in responses) == [200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert after.status_code == 200  # the slot was given back


async def test_a_503_gives_the_rate_limit_unit_back(standin: Any, make_app: Callable[..., Any], running: Callable[..., Any], kit: SimpleNamespace) -> None:
    standin.set("plant_id", "down")
    standin.set("plantnet", "down")
    async with running(make_app(anonymous_limit=1)) as client:
        unavailable = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(76)))
        standin.set("plant_id", "ok")
        standin.set("plantnet", "ok")
        answered = await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(77)))

    assert unavailable.status_code == 503
    assert answered.status_code == 200
