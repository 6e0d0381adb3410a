"""Least privilege between services: each service's role reaches only its own database."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

URL_VARS = {"auth": "AUTH_DATABASE_URL", "gateway": "GATEWAY_DATABASE_URL", "cms": "CMS_DATABASE_URL"}


def _libpq_url(name: str, *, database: str | None = None) -> str:
    parts = urlsplit(os.environ[URL_VARS[name]].replace("postgresql+psycopg://", "postgresql://"))
    path = f"/{database}" if database else parts.path
    return urlunsplit(parts._replace(path=path))


@pytest.mark.parametrize("name", sorted(URL_VARS))
def test_a_service_role_reaches_its_own_database(name: str) -> None:
    with psycopg.connect(_libpq_url(name), connect_timeout=5) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)


@pytest.mark.parametrize(("name", "other"), [(a, b) for a in URL_VARS for b in URL_VARS if a != b])
def test_a_service_role_cannot_reach_another_services_database(name: str, other: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(_libpq_url(name, database=other), connect_timeout=5)


def test_service_roles_are_not_superusers() -> None:
    with psycopg.connect(os.environ["PLATFORM_POSTGRES_ADMIN_DSN"]) as conn:
        rows = conn.execute("SELECT rolname, rolsuper FROM pg_roles WHERE rolname = ANY(%s)", (list(URL_VARS),)).fetchall()
    assert sorted(rows) == [(name, False) for name in sorted(URL_VARS)]
