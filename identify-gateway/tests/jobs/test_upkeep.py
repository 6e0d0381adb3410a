"""Scheduled upkeep run in-process on the app's resources: the quota check (warning, metric, skipping
an exhausted engine) and retention (stuck jobs expired and refunded, old photos and results deleted)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import AsyncClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from identify_gateway.jobs import upkeep
from identify_gateway.models import IdentificationJob, IdentificationRequest, IdentificationUpload

JOBS = "/api/v1/plant-identification/identifications/"


@pytest.fixture
async def app_and_client(standin: Any, tokens: Any, redis_prefix: str, make_app: Callable[..., Any], running: Callable[..., Any]) -> AsyncIterator[tuple[Any, AsyncClient]]:
    async with running(make_app(anonymous_allowed=False, celery_key_prefix=redis_prefix)) as client:
        yield client._transport.app, client  # type: ignore[attr-defined]


async def test_an_engine_past_80_percent_of_its_quota_is_logged_and_flagged(
    app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = app_and_client
    standin.set("plantnet", quota=1000, remaining=151)
    (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(801)), headers=tokens.bearer())).raise_for_status()

    with caplog.at_level(logging.WARNING, logger="identify_gateway.jobs.upkeep"):
        levels = await upkeep.check_quotas(app.resources)

    assert levels["plantnet"].level == "warning" and levels["plantnet"].used_ratio == pytest.approx(0.85)
    assert levels["plant_id"].level in ("ok", "unknown")
    assert any("[QUOTA] plantnet has used 85% of its quota (150 of 1000 left)" in r.getMessage() for r in caplog.records)
    assert REGISTRY.get_sample_value("gateway_engine_quota_alert", {"engine": "plantnet"}) == 1
    assert REGISTRY.get_sample_value("gateway_engine_quota_used_ratio", {"engine": "plantnet"}) == pytest.approx(0.85)


async def test_an_engine_out_of_quota_is_reported_and_skipped(
    app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = app_and_client
    standin.set("plantnet", quota=1000, remaining=1)
    (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(802)), headers=tokens.bearer())).raise_for_status()  # uses the last one

    with caplog.at_level(logging.WARNING, logger="identify_gateway.jobs.upkeep"):
        levels = await upkeep.check_quotas(app.resources)
    calls = standin.calls()["plantnet"]
    after = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(803)), headers=tokens.bearer())).json()

    assert levels["plantnet"].level == "exhausted"
    assert any(r.levelno == logging.ERROR and "[QUOTA] plantnet is out of quota" in r.getMessage() for r in caplog.records)
    assert REGISTRY.get_sample_value("gateway_engine_quota_alert", {"engine": "plantnet"}) == 2
    assert after["engines"]["plantnet"]["status"] == "quota_exhausted" and standin.calls()["plantnet"] == calls


async def test_retention_expires_stuck_jobs_and_deletes_old_photos_and_results(
    app_and_client: Any, redis_prefix: str, standin: Any, tokens: Any, kit: SimpleNamespace
) -> None:
    app, client = app_and_client
    resources = app.resources
    user = uuid.uuid4()
    me = tokens.bearer(user)
    stuck = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(811)), headers=me)).json()["id"])  # no worker: stays queued
    fresh = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(812)), headers=me)).json()["id"])
    old = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(813)), headers=me)).json()["request_id"]
    recent = (await client.post(kit.IDENTIFY, files=kit.upload(kit.photo(814)), headers=me)).json()["request_id"]
    async with resources.sessions() as session, session.begin():
        two_days = datetime.now(UTC) - timedelta(days=2)
        await session.execute(text("UPDATE identification_jobs SET created_at = :t WHERE id = :id"), {"t": two_days, "id": stuck})
        await session.execute(text("UPDATE identification_uploads SET created_at = :t WHERE request_id = :id"), {"t": two_days, "id": stuck})
        await session.execute(text("UPDATE identification_requests SET created_at = :t WHERE id = :id"), {"t": datetime.now(UTC) - timedelta(days=200), "id": old})
    assert await resources.redis.zcard(f"{redis_prefix}rl:user:{user}") == 4

    counts = await upkeep.retention(resources)

    assert counts["expired_jobs"] == 1 and counts["deleted_uploads"] >= 0 and counts["deleted_identifications"] >= 1
    stuck_view = await resources.jobs.load(stuck)
    assert stuck_view.job.status == "failed" and stuck_view.job.error["code"] == "expired"
    assert (await resources.jobs.load(fresh)).job.status == "queued"
    assert await resources.redis.zcard(f"{redis_prefix}rl:user:{user}") == 3  # the expired job's unit was given back
    async with resources.sessions() as session:
        assert await session.get(IdentificationRequest, uuid.UUID(old)) is None
        assert await session.get(IdentificationRequest, uuid.UUID(recent)) is not None
        left = await session.scalar(select(func.count()).select_from(IdentificationUpload).where(IdentificationUpload.request_id.in_([stuck, fresh])))
        assert left == 1  # the fresh job's photo only


async def test_retention_deletes_jobs_with_their_items_past_the_history_retention(app_and_client: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(821)), headers=tokens.bearer())).json()["id"])
    async with resources.sessions() as session, session.begin():
        await session.execute(text("UPDATE identification_jobs SET created_at = now() - interval '400 days' WHERE id = :id"), {"id": job_id})

    await upkeep.retention(resources)

    async with resources.sessions() as session:
        assert await session.get(IdentificationJob, job_id) is None
        assert await session.get(IdentificationRequest, job_id) is None  # its item went with it (ON DELETE CASCADE)


async def test_the_status_snapshot_is_for_admins(app_and_client: Any, tokens: Any) -> None:
    _, client = app_and_client

    admin = await client.get("/api/v1/plant-identification/status/snapshot/", headers=tokens.bearer(roles=["admin"]))
    member = await client.get("/api/v1/plant-identification/status/snapshot/", headers=tokens.bearer())
    nobody = await client.get("/api/v1/plant-identification/status/snapshot/")

    assert admin.status_code == 200, admin.text
    body = admin.json()
    assert body["engines"]["plant_id"]["circuit_state"] == "closed" and body["engines"]["plant_id"]["fail_max"] == 3
    assert set(body["queues"]) == {"fast", "default", "slow", "priority"} and body["redis"]["available"] is True
    assert "hit_rate" in body["cache"]
    assert member.status_code == 403 and nobody.status_code == 401


async def test_the_status_page_runs_under_a_strict_csp(app_and_client: Any) -> None:
    _, client = app_and_client

    page = await client.get("/api/v1/plant-identification/status/")
    script = await client.get("/api/v1/plant-identification/status/status.js")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert '<script src="status.js" defer></script>' in page.text and "<script>" not in page.text and "style=" not in page.text
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


async def test_csp_violation_reports_are_counted_by_directive(app_and_client: Any) -> None:
    _, client = app_and_client
    before = REGISTRY.get_sample_value("gateway_csp_reports_total", {"directive": "script-src-elem"}) or 0
    legacy = {"csp-report": {"document-uri": "https://x/status/", "effective-directive": "script-src-elem", "blocked-uri": "inline"}}
    batch = [{"type": "csp-violation", "body": {"documentURL": "https://x/status/", "effectiveDirective": "script-src-elem", "blockedURL": "inline"}}]

    first = await client.post("/api/v1/plant-identification/csp-report/", content=json.dumps(legacy), headers={"Content-Type": "application/csp-report"})
    second = await client.post("/api/v1/plant-identification/csp-report/", content=json.dumps(batch), headers={"Content-Type": "application/reports+json"})
    junk = await client.post("/api/v1/plant-identification/csp-report/", content=b"not json", headers={"Content-Type": "application/csp-report"})

    assert first.status_code == second.status_code == junk.status_code == 204
    assert REGISTRY.get_sample_value("gateway_csp_reports_total", {"directive": "script-src-elem"}) == before + 2
