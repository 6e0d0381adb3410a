"""The FastAPI bearer dependency through a tiny app: envelopes, challenges, roles and scopes."""

import asyncio
import os
import time
import uuid
from typing import Annotated, Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI

from plant_shared.fastapi_support import bearer_claims, install_error_handlers, require_role, require_scope
from plant_shared.tokens import Claims, DenylistMirror, DenylistVerdict, TokenVerifier, deny

REDIS_URL = os.environ["SHARED_TEST_REDIS_URL"]  # conftest has checked it is set


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.verifier = verifier
    install_error_handlers(app)
    current = bearer_claims(lambda request: request.app.state.verifier)
    optional = bearer_claims(lambda request: request.app.state.verifier, required=False)

    @app.get("/me")
    async def me(claims: Annotated[Claims, Depends(current)]) -> dict[str, Any]:
        """The caller's identity."""
        return {"sub": claims.sub, "roles": list(claims.roles)}

    @app.get("/maybe")
    async def maybe(claims: Annotated[Claims | None, Depends(optional)]) -> dict[str, Any]:
        return {"sub": claims.sub if claims else None}

    @app.get("/admin")
    async def admin(claims: Annotated[Claims, Depends(require_role("admin", "editor", claims=current))]) -> dict[str, str]:
        return {"sub": claims.sub}

    @app.get("/internal")
    async def internal(claims: Annotated[Claims, Depends(require_scope("internal", claims=current))]) -> dict[str, str]:
        return {"client": claims.client_id or ""}

    return app


@pytest.fixture
async def client(verifier):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(verifier), raise_app_exceptions=False), base_url="http://t") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_reaches_the_route(client, key) -> None:
    response = await client.get("/me", headers=bearer(key.mint()))

    assert response.status_code == 200
    assert response.json()["roles"] == ["member"]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
async def test_the_scheme_is_case_insensitive(client, key, scheme) -> None:
    response = await client.get("/me", headers={"Authorization": f"{scheme} {key.mint()}"})

    assert response.status_code == 200


async def test_no_token_is_401_not_authenticated_with_a_bare_challenge(client) -> None:
    response = await client.get("/me")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required.", "code": "not_authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_bad_token_is_a_401_envelope_with_an_invalid_token_challenge(client, key) -> None:
    token = key.mint(iss="https://evil.example")

    response = await client.get("/me", headers=bearer(token))

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == "token_invalid"
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert token not in response.text and "evil" not in response.text


async def test_an_expired_token_says_so(client, key) -> None:
    response = await client.get("/me", headers=bearer(key.mint(exp=1_000_000, iat=999_000)))

    assert response.status_code == 401 and response.json()["code"] == "token_expired"


@pytest.mark.parametrize(
    "value",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer " + "x" * 9000, "Bearer not-a-jwt", "Bearer a.b.c"],
)
async def test_malformed_bearer_values_are_401_never_500(client, value) -> None:
    response = await client.get("/me", headers={"Authorization": value})

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


async def test_another_scheme_counts_as_no_token(client) -> None:
    response = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


async def test_two_authorization_headers_are_refused(client, key) -> None:
    token = key.mint()

    response = await client.get("/me", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])

    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


async def test_a_refresh_token_is_refused(client) -> None:
    import secrets

    response = await client.get("/me", headers=bearer(secrets.token_urlsafe(48)))

    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


async def test_optional_without_a_token_gives_none(client) -> None:
    response = await client.get("/maybe")

    assert response.status_code == 200 and response.json() == {"sub": None}


@pytest.mark.parametrize("value", [b"Bearer \xe9\xe9.\xe9\xe9.x", b"\xff\xfe", b"Bearer " + bytes(range(128, 256))])
async def test_non_ascii_authorization_values_are_401_never_500(client, value) -> None:
    response = await client.get("/me", headers={"Authorization": value})

    assert response.status_code == 401
    assert response.json()["code"] in {"token_invalid", "not_authenticated"}


async def test_the_header_is_found_among_others(client, key) -> None:
    headers = [("Accept", "*/*"), ("X-Authorization", "Bearer nope"), ("Authorization", f"Bearer {key.mint()}"), ("Cookie", "a=b")]

    response = await client.get("/me", headers=headers)

    assert response.status_code == 200


async def test_optional_with_a_bad_token_is_still_401(client, key) -> None:
    response = await client.get("/maybe", headers=bearer(key.mint(aud="cms")))

    assert response.status_code == 401


async def test_optional_with_a_good_token_gives_the_claims(client, key) -> None:
    claims = key.claims()

    response = await client.get("/maybe", headers=bearer(key.mint(claims)))

    assert response.json() == {"sub": claims["sub"]}


async def test_a_member_on_an_editor_route_gets_403(client, key) -> None:
    response = await client.get("/admin", headers=bearer(key.mint(roles=["member"])))

    assert response.status_code == 403
    assert response.json() == {"detail": "This action needs one of these roles: admin, editor.", "code": "permission_denied"}


async def test_an_editor_passes_the_role_check(client, key) -> None:
    response = await client.get("/admin", headers=bearer(key.mint(roles=["member", "editor"])))

    assert response.status_code == 200


async def test_a_role_route_without_a_token_is_401(client) -> None:
    response = await client.get("/admin")

    assert response.status_code == 401


async def test_a_user_token_on_an_internal_route_gets_403_insufficient_scope(client, key) -> None:
    response = await client.get("/internal", headers=bearer(key.mint()))

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_service_token_passes_the_internal_route(client, key) -> None:
    response = await client.get("/internal", headers=bearer(key.service_token()))

    assert response.status_code == 200 and response.json() == {"client": "svc-cms"}


async def test_a_revoked_token_is_401_token_revoked(client, key, denylist) -> None:
    claims = key.claims()
    await denylist(f"deny:jti:{claims['jti']}")

    response = await client.get("/me", headers=bearer(key.mint(claims)))

    assert response.status_code == 401 and response.json()["code"] == "token_revoked"


async def test_redis_down_is_503_auth_unavailable(key, make_verifier, dead_redis) -> None:
    app = _app(make_verifier(denylist_redis=dead_redis))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/me", headers=bearer(key.mint()))

    assert response.status_code == 503
    assert response.json()["code"] == "auth_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_the_role_check_verifies_the_token_once(key, make_verifier, redis_client) -> None:
    calls = []

    class Counting:
        async def mget(self, keys):
            calls.append(keys)
            return await redis_client.mget(keys)

    app = _app(make_verifier(denylist_redis=Counting()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/admin", headers=bearer(key.mint(roles=["admin"])))

    assert response.status_code == 200 and len(calls) == 1


async def test_protected_routes_declare_the_bearer_scheme_in_openapi(client) -> None:
    document = (await client.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["PlatformBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token from the auth service.",
    }
    assert document["paths"]["/me"]["get"]["security"] == [{"PlatformBearer": []}]
    assert document["paths"]["/admin"]["get"]["security"] == [{"PlatformBearer": []}]


async def test_two_bearer_dependencies_on_one_route_verify_the_token_once(key, make_verifier, redis_client) -> None:
    calls = []

    class Counting:
        async def mget(self, keys):
            calls.append(keys)
            return await redis_client.mget(keys)

    app = FastAPI()
    app.state.verifier = make_verifier(denylist_redis=Counting())
    app.state.other = make_verifier(denylist_redis=Counting())
    install_error_handlers(app)
    required = bearer_claims(lambda request: request.app.state.verifier)
    optional = bearer_claims(lambda request: request.app.state.verifier, required=False)
    elsewhere = bearer_claims(lambda request: request.app.state.other)  # another verifier: verifies again

    @app.get("/both")
    async def both(a: Annotated[Claims, Depends(required)], b: Annotated[Claims | None, Depends(optional)]) -> dict[str, bool]:
        return {"same": a is b}

    @app.get("/two-verifiers")
    async def two(a: Annotated[Claims, Depends(required)], b: Annotated[Claims, Depends(elsewhere)]) -> dict[str, bool]:
        return {"same": a is b}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        token = key.mint()
        first = await client.get("/both", headers=bearer(token))
        once = len(calls)
        second = await client.get("/both", headers=bearer(token))  # a new request verifies again
        other = await client.get("/two-verifiers", headers=bearer(token))

    assert first.json() == {"same": True} and once == 1
    assert second.status_code == 200 and len(calls) == 4
    assert other.json() == {"same": False}


async def test_with_a_fresh_mirror_a_reused_token_is_settled_in_memory_and_revocation_still_refuses_it(key, make_verifier, redis_client) -> None:
    mirror = DenylistMirror(aioredis.from_url(REDIS_URL, socket_timeout=1.0), client_name=f"bearer-test-{uuid.uuid4().hex[:12]}")
    assert await mirror.start(wait=5.0)
    verifier = make_verifier(denylist_mirror=mirror)
    verify_calls = []
    real_verify = verifier.verify

    async def counted_verify(token: str) -> Claims:
        verify_calls.append(token)
        return await real_verify(token)

    verifier.verify = counted_verify  # type: ignore[method-assign]
    claims = key.claims()
    token = key.mint(claims)
    jti_key = f"deny:jti:{claims['jti']}"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(verifier)), base_url="http://t") as client:
            first = await client.get("/me", headers=bearer(token))
            again = [await client.get("/me", headers=bearer(token)) for _ in range(3)]
            spaced = await client.get("/me", headers={"Authorization": f"Bearer  {token} "})  # not the exact text: verified
            remembered = verifier.settled(token)
            await deny(redis_client, jti_key, "1", 60)
            deadline = time.monotonic() + 2
            while mirror.check(remembered) is not DenylistVerdict.REVOKED:
                assert time.monotonic() < deadline, "the mirror never saw the revocation"
                await asyncio.sleep(0.01)
            revoked = await client.get("/me", headers=bearer(token))
    finally:
        await redis_client.delete(jti_key)
        await mirror.stop()
        await mirror.redis.aclose()

    assert first.status_code == 200 and all(r.status_code == 200 and r.json()["sub"] == claims["sub"] for r in again)
    assert spaced.status_code == 200
    assert verify_calls == [token] * 3  # the first request, the spaced one, the revoked one; the reuses were settled in memory
    assert revoked.status_code == 401 and revoked.json()["code"] == "token_revoked"
    assert revoked.headers["www-authenticate"] == 'Bearer error="invalid_token"'
