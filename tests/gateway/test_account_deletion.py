"""Deleting an account in the auth service erases what the gateway holds for it (across services)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import psycopg

IDENTIFY = "/api/v1/plant-identification/identify/"


def _rows(database_url: str, user_id: str) -> int:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute("SELECT count(*) FROM identification_requests WHERE user_id = %s", (user_id,)).fetchone()[0]


def test_a_deleted_accounts_identifications_are_erased(edge: httpx.Client, stack_env: Callable[[str], str], files, new_photo) -> None:
    # Given a member with two stored identifications
    email, password = f"gone-{uuid.uuid4().hex[:10]}@example.org", f"Pw-{uuid.uuid4().hex}"
    assert edge.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 202
    token = edge.post("/api/v1/auth/login", json={"email": email, "password": password}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        edge.post(IDENTIFY, files=files(new_photo()), headers=headers).raise_for_status()
    user_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    database_url = stack_env("GATEWAY_DATABASE_URL")
    assert _rows(database_url, user_id) == 2

    # When the account is deleted at the auth service
    deleted = edge.request("DELETE", "/api/v1/auth/me", json={"password": password}, headers=headers)
    assert deleted.status_code in (200, 204), deleted.text

    # Then the gateway's beat erases the history within seconds (the event travels on a Redis stream)
    deadline = time.monotonic() + 30
    while _rows(database_url, user_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _rows(database_url, user_id) == 0
