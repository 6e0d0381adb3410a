"""`/api/v1/auth/admin/...`: list users, change role or tier, revoke sessions (admins only)."""

from __future__ import annotations

import jwt

from auth_service.models import Role

USERS = "/api/v1/auth/admin/users"


async def admin_token(client, make_user, log_in) -> tuple[object, str]:
    admin = await make_user(role=Role.ADMIN)
    return admin, (await log_in(client, admin))["access_token"]


async def test_admin_lists_users_a_page_at_a_time(client, make_user, log_in, auth):
    # Given an admin and three users sharing a marker in their address
    _, token = await admin_token(client, make_user, log_in)
    marker = __import__("uuid").uuid4().hex[:8]
    for i in range(3):
        await make_user(email=f"page-{marker}-{i}@plant.test")

    # When the admin lists them two at a time
    first = (await client.get(USERS, params={"email": marker, "limit": 2}, headers=auth(token))).json()
    second = (await client.get(USERS, params={"email": marker, "limit": 2, "offset": 2}, headers=auth(token))).json()

    # Then the pages add up, in creation order
    assert first["total"] == second["total"] == 3
    assert [u["email"] for u in first["items"] + second["items"]] == [f"page-{marker}-{i}@plant.test" for i in range(3)]


async def test_email_filter_treats_wildcards_literally(client, make_user, log_in, auth):
    _, token = await admin_token(client, make_user, log_in)

    response = await client.get(USERS, params={"email": "%_%"}, headers=auth(token))

    assert response.status_code == 200
    assert response.json()["total"] == 0


async def test_members_and_editors_get_403_with_the_envelope(client, make_user, log_in, auth):
    for role in (Role.MEMBER, Role.EDITOR):
        token = (await log_in(client, await make_user(role=role)))["access_token"]

        response = await client.get(USERS, headers=auth(token))

        assert response.status_code == 403
        assert response.json() == {"detail": "This endpoint is for administrators.", "code": "permission_denied"}


async def test_admin_changes_role_and_tier_and_the_next_refresh_carries_them(client, make_user, log_in, auth):
    # Given a member signed in on a phone
    _, token = await admin_token(client, make_user, log_in)
    member = await make_user()
    phone = await log_in(client, member)

    # When an admin makes them an editor on the premium tier
    response = await client.patch(f"{USERS}/{member.id}", json={"role": "editor", "tier": "premium"}, headers=auth(token))

    # Then the old access token is refused and the refreshed one carries the change
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["tier"]) == ("editor", "premium")
    assert (await client.get("/api/v1/auth/me", headers=auth(phone["access_token"]))).status_code == 401
    refreshed = (await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})).json()
    claims = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert (claims["roles"], claims["tier"]) == (["editor"], "premium")
    assert (await client.get("/api/v1/auth/me", headers=auth(refreshed["access_token"]))).status_code == 200


async def test_an_invalid_role_is_a_422(client, make_user, log_in, auth):
    _, token = await admin_token(client, make_user, log_in)
    member = await make_user()

    response = await client.patch(f"{USERS}/{member.id}", json={"role": "overlord"}, headers=auth(token))

    assert response.status_code == 422


async def test_admin_cannot_change_their_own_role(client, make_user, log_in, auth):
    admin, token = await admin_token(client, make_user, log_in)

    response = await client.patch(f"{USERS}/{admin.id}", json={"role": "member"}, headers=auth(token))

    assert response.status_code == 409


async def test_admin_revokes_every_session_of_a_user(client, make_user, log_in, auth):
    _, token = await admin_token(client, make_user, log_in)
    member = await make_user()
    phone = await log_in(client, member)

    response = await client.post(f"{USERS}/{member.id}/revoke-sessions", headers=auth(token))

    assert response.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=auth(phone["access_token"]))).status_code == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 401


async def test_unknown_user_is_404(client, make_user, log_in, auth):
    _, token = await admin_token(client, make_user, log_in)

    response = await client.get(f"{USERS}/00000000-0000-0000-0000-000000000000", headers=auth(token))

    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"
