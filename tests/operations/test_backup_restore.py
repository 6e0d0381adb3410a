"""PostgreSQL backup and restore, exactly as docs/operations.md ("Backups and restore") says: each
service's database dumped from the running stack with deploy/postgres/backup.py (pg_dump, custom
format), restored into a freshly created database, and compared table by table (row counts) and,
for the tables that matter most (accounts, identification history, garden), row by row."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.gateway.conftest import IDENTIFY, account_token, photo, upload

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "deploy" / "postgres" / "backup.py"
# Service -> (its database URL variable, the key tables compared row by row).
DATABASES = {
    "auth": ("AUTH_DATABASE_URL", ["users"]),
    "gateway": ("GATEWAY_DATABASE_URL", ["identification_requests"]),
    "cms": ("CMS_DATABASE_URL", ["garden_gardenplant"]),
}


def backup(*args: str | Path) -> str:
    done = subprocess.run([sys.executable, str(BACKUP), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def libpq(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.split("+", 1)[0], parts.netloc, parts.path, parts.query, ""))


def table_digest(url: str, table: str) -> tuple[int, str]:
    """Rows and an md5 of every row's text, in a stable order: equal digests, equal contents."""
    with psycopg.connect(libpq(url)) as conn:
        query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t").format(sql.Identifier(table))
        rows, digest = conn.execute(query).fetchone()
    return rows, digest


@pytest.fixture(scope="module")
def history_and_garden(edge_url: str) -> None:
    """A member with an identification in their history and a plant in their garden, so the key
    tables of all three databases hold rows of this run."""
    token = account_token(edge_url, role="member")
    headers = {"Authorization": f"Bearer {token}"}
    identified = httpx.post(f"{edge_url}{IDENTIFY}", files=upload(photo()), headers=headers, timeout=60)
    assert identified.status_code == 200, identified.text
    planted = httpx.post(f"{edge_url}/api/v1/garden/plants/", json={"nickname": "Backup fern", "location": "hall"}, headers=headers, timeout=15)
    assert planted.status_code == 201, planted.text


@pytest.fixture
def fresh_database(stack_env: Callable[[str], str]) -> Iterator[Callable[[str], str]]:
    """`fresh_database(owner)`: a new, empty database owned by the service's role (dropped afterwards)."""
    admin = stack_env("PLATFORM_POSTGRES_ADMIN_DSN")
    made: list[str] = []

    def create(owner: str) -> str:
        name = f"{owner}_restore_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
        made.append(name)
        return name

    yield create
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize("service", DATABASES)
def test_a_dump_restores_into_a_fresh_database_with_every_row(
    service: str, history_and_garden: None, fresh_database: Callable[[str], str], stack_env: Callable[[str], str], tmp_path: Path
) -> None:
    variable, key_tables = DATABASES[service]
    source = stack_env(variable)
    dump_file = tmp_path / f"{service}.dump"

    # The stack keeps running (beat, reminders): retry if something was written while dumping.
    for _ in range(3):
        before = backup("counts", source)
        digests = {table: table_digest(source, table) for table in key_tables}
        backup("dump", source, dump_file)
        if backup("counts", source) == before and digests == {table: table_digest(source, table) for table in key_tables}:
            break
    else:
        pytest.fail(f"the {service} database kept changing while it was dumped")
    restored = with_database(source, fresh_database(urlsplit(source).path.lstrip("/")))
    backup("restore", dump_file, restored)

    assert dump_file.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert backup("counts", restored) == before
    for table in key_tables:
        rows, digest = table_digest(restored, table)
        assert rows > 0, f"{service}.{table} is empty: nothing was compared"
        assert (rows, digest) == digests[table], f"{service}.{table} differs after the restore"


def test_a_restore_refuses_a_database_that_is_not_empty(stack_env: Callable[[str], str], tmp_path: Path) -> None:
    source = stack_env("AUTH_DATABASE_URL")
    dump_file = tmp_path / "auth.dump"
    backup("dump", source, dump_file)

    done = subprocess.run([sys.executable, str(BACKUP), "restore", str(dump_file), source], capture_output=True, text=True, timeout=60, cwd=ROOT)

    assert done.returncode != 0
    assert "not empty" in done.stderr
