"""Scenario 2: PostgreSQL killed (SIGKILL, crash recovery on start) and restarted during writes.

While it is away, requests that need it answer 503 {"detail","code"} (never 500, never a hang past
the client's timeout). Afterwards every write that was answered 2xx is there — accounts (sign-up),
garden plants, identification histories — and no write is partial (a plant bound to a species has
its care tasks, written in the same transaction).

One documented exception (docs/operations.md, "Failure modes"): an identification answered while
PostgreSQL is down still gets its answer (it needs only the engines), but its history entry is
lost (logged, counted by `gateway_history_errors_total`). So history entries may be missing
only for identifications in progress between the kill and shortly after PostgreSQL answers again;
any other missing entry is data lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from devstack.stack import Stack

from tests.gateway.conftest import IDENTIFY, photo, upload
from tests.reliability.loadgen import Kind, Load, Report

OUTAGE_S = 4.0
RECOVERY_WITHIN_S = 20.0
CLIENT_TIMEOUT_S = 10.0
# After PostgreSQL answers again, a service's pooled connections fail once each before reconnecting.
POOL_RECONNECT_S = 2.0
SPECIES = "Monstera deliciosa"  # demo content with a care guide: the plant gets care tasks
MARKER = f"rel-{uuid.uuid4().hex[:8]}"  # this run's rows


def written(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


class Writes:
    """What each kind wrote and was told was written (2xx), by key."""

    def __init__(self) -> None:
        self.accounts: list[str] = []
        self.identifications: list[tuple[str, float, float]] = []  # (request id, sent, answered)
        self.plants: list[str] = []

    def kinds(self, token: str) -> list[Kind]:
        headers = {"Authorization": f"Bearer {token}"}

        def sign_up(http: httpx.Client, _state: dict[str, Any]) -> httpx.Response:
            email = f"{MARKER}-{uuid.uuid4().hex[:12]}@reliability.plant.community"
            response = http.post("/api/v1/auth/register", json={"email": email, "password": f"Pw-{uuid.uuid4().hex}"})
            if written(response):
                self.accounts.append(email)
            return response

        def identify(http: httpx.Client, _state: dict[str, Any]) -> httpx.Response:
            sent = time.monotonic()
            response = http.post(IDENTIFY, files=upload(photo()), headers=headers)
            if written(response):
                self.identifications.append((response.json()["request_id"], sent, time.monotonic()))
            return response

        def add_plant(http: httpx.Client, _state: dict[str, Any]) -> httpx.Response:
            body = {"nickname": f"{MARKER} {uuid.uuid4().hex[:8]}", "species_name": SPECIES}
            response = http.post("/api/v1/garden/plants/", json=body, headers=headers)
            if written(response):
                self.plants.append(response.json()["id"])
            return response

        return [Kind("auth sign-up", sign_up), Kind("identify (history)", identify), Kind("garden add plant", add_plant),
                Kind("cms read pages", lambda http, _s: http.get("/api/v2/pages/?type=blog.BlogPostPage&fields=title"))]


def _rows(stack: Stack, database: str, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.postgres.admin_dsn(database)) as conn:
        return conn.execute(query, params).fetchall()


def missing_writes(stack: Stack, writes: Writes, *, outage: tuple[float, float]) -> tuple[dict[str, list[str]], int]:
    """Writes answered 2xx that are not in the database, and the history entries lost as documented:
    identifications in progress at some time during `outage` (a (start, end) of time.monotonic()),
    since their history entry is written between the request and the answer."""
    accounts = {row[0] for row in _rows(stack, "auth", "SELECT email FROM users WHERE email LIKE %s", (f"{MARKER}-%",))}
    stored = {str(row[0]) for row in _rows(stack, "gateway", "SELECT id FROM identification_requests WHERE id = ANY(%s)",
                                           ([uuid.UUID(i) for i, *_ in writes.identifications],))}
    plants = {str(row[0]) for row in _rows(stack, "cms", "SELECT id FROM garden_gardenplant WHERE nickname LIKE %s", (f"{MARKER} %",))}
    unstored = [(i, sent, answered) for i, sent, answered in writes.identifications if i not in stored]
    during = [i for i, sent, answered in unstored if sent <= outage[1] and answered >= outage[0]]
    missing = {
        "accounts": [e for e in writes.accounts if e not in accounts],
        "identifications": [i for i, *_ in unstored if i not in during],
        "plants": [p for p in writes.plants if p not in plants],
    }
    return missing, len(during)


def plants_without_care_tasks(stack: Stack) -> list[str]:
    """Partial writes: plants of this run (answered or not) whose care tasks are missing."""
    return [str(row[0]) for row in _rows(stack, "cms", (
        "SELECT p.id FROM garden_gardenplant p LEFT JOIN garden_caretask t ON t.plant_id = p.id "
        "WHERE p.nickname LIKE %s GROUP BY p.id HAVING count(t.id) = 0"), (f"{MARKER} %",))]


def test_postgres_restarted_under_writes_fails_cleanly_and_loses_nothing(
    stack: Stack, edge_url: str, member_account: Callable[[], str], print_report: Callable[[Report], None],
) -> None:
    writes = Writes()
    postgres = stack.process("postgres")

    with Load(edge_url, writes.kinds(member_account()), timeout=CLIENT_TIMEOUT_S) as load:
        load.wait(2)
        killed_at = time.monotonic()
        postgres.kill()
        load.wait(OUTAGE_S)
        postgres.restart()  # includes crash recovery: seconds on a busy machine
        answering_at = time.monotonic()
        load.mark_restart()  # recovery counts from PostgreSQL answering again: the services' part
        load.wait_until_recovered(within=RECOVERY_WITHIN_S)
        load.wait(1)

    missing, history_lost_as_documented = missing_writes(stack, writes, outage=(killed_at, answering_at + POOL_RECONNECT_S))
    partial = plants_without_care_tasks(stack)
    report = load.report(
        scenario=f"PostgreSQL killed (SIGKILL) under writes, restarted after {OUTAGE_S:.0f} s",
        data_lost=sum(len(keys) for keys in missing.values()),
        notes=[f"writes answered 2xx: {len(writes.accounts)} accounts, {len(writes.identifications)} identifications, "
               f"{len(writes.plants)} plants; all read back: {not any(missing.values())}; partial plants: {len(partial)}",
               f"history entries not stored for identifications answered during the outage (documented): {history_lost_as_documented}",
               f"PostgreSQL answered again {answering_at - killed_at:.1f} s after the kill"],
    )
    print_report(report)

    assert not any(missing.values()), f"writes answered 2xx but lost: {missing}"
    assert not partial, f"plants written without their care tasks: {partial}"
    unclean = [s for s in report.server_errors() if not (s.status == 503 and s.enveloped)]
    assert not unclean, f"answers other than 503 with the envelope during the outage: {unclean[:5]}"
    assert not report.errors(), f"transport errors (a request hung past {CLIENT_TIMEOUT_S:.0f} s, or the edge dropped it): {report.errors()}"
    assert all(len(keys) > 0 for keys in (writes.accounts, writes.identifications, writes.plants)), "some kind wrote nothing"
    assert report.recovery_s is not None and report.recovery_s < RECOVERY_WITHIN_S, report.lines()
