"""The job runner and store without a worker process: exactly-once writes, redelivery, refunds,
backoff, and what is stored of an upload. Jobs are queued on a prefix no worker listens to, then
run in-process with the app's own resources (the same objects the worker builds)."""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from httpx import AsyncClient
from PIL import Image
from sqlalchemy import func, select

from identify_gateway.jobs.runner import backoff_s
from identify_gateway.models import IdentificationRequest, IdentificationUpload

JOBS = "/api/v1/plant-identification/identifications/"


@pytest.fixture
async def app_and_client(standin: Any, tokens: Any, redis_prefix: str, make_app: Callable[..., Any], running: Callable[..., Any]) -> AsyncIterator[tuple[Any, AsyncClient]]:
    app = make_app(anonymous_allowed=False, celery_key_prefix=redis_prefix, job_max_retries=1, job_retry_base_s=0.1, job_retry_max_s=0.2)
    async with running(app) as client:
        yield app, client


def gps_jpeg() -> bytes:
    image = Image.new("RGB", (2400, 1800), (30, 120, 40))
    for x in range(0, 2400, 7):
        image.putpixel((x, x % 1800), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # GPS IFD
    exif[0x0112] = 6  # rotated 90°: the stored copy must be upright
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_a_queued_job_is_stored_with_its_photo_normalised_and_without_metadata(app_and_client: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    original = gps_jpeg()

    response = await client.post(JOBS, files=kit.upload(original), data={"latitude": "48.8566", "longitude": "2.3522"}, headers=tokens.bearer())

    assert response.status_code == 202, response.text
    job_id = uuid.UUID(response.json()["id"])
    async with app.resources.sessions() as session:
        upload = await session.scalar(select(IdentificationUpload).where(IdentificationUpload.request_id == job_id))
        item = await session.get(IdentificationRequest, job_id)
    stored = Image.open(io.BytesIO(upload.data))
    assert stored.format == "JPEG" and stored.size == (1125, 1500)  # upright (EXIF orientation applied), at most 1500 px
    assert not stored.getexif() and "exif" not in stored.info and "icc_profile" not in stored.info
    assert upload.sha256 == hashlib.sha256(original).hexdigest()  # the upload's hash: the cache key is the sync path's
    assert item.status == "queued" and item.parameters == {"organs": [], "language": "en", "health": False, "located": True}


async def test_a_job_run_twice_writes_one_result_and_the_second_run_does_nothing(app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(701)), headers=tokens.bearer())).json()["id"])

    first = await resources.runner.run(job_id)
    calls = standin.calls()
    second = await resources.runner.run(job_id)  # a duplicate delivery

    assert first.state == "done" and second.state == "gone"
    assert standin.calls() == calls
    view = await resources.jobs.load(job_id)
    assert view.job.status == "completed" and view.job.attempts == 1
    assert [e["event"] for e in view.job.events].count("completed") == 1
    async with resources.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(IdentificationRequest).where(IdentificationRequest.job_id == job_id))
        photos = await session.scalar(select(func.count()).select_from(IdentificationUpload).where(IdentificationUpload.request_id == job_id))
    assert rows == 1 and photos == 0


async def test_an_item_answer_is_written_once_whoever_writes_second(app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(702)), headers=tokens.bearer())).json()["id"])

    assert await resources.jobs.complete_item(job_id, {"success": True, "engines": {}, "answer": 1}) is True
    assert await resources.jobs.complete_item(job_id, {"success": True, "engines": {}, "answer": 2}) is False
    assert await resources.jobs.fail_item(job_id, code="x", detail="y") is False

    async with resources.sessions() as session:
        assert (await session.get(IdentificationRequest, job_id)).result["answer"] == 1


async def test_a_redelivered_job_resumes_and_counts_its_deliveries(app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(703)), headers=tokens.bearer())).json()["id"])
    await resources.jobs.start(job_id)  # a delivery whose worker then died

    await resources.runner.run(job_id)

    view = await resources.jobs.load(job_id)
    assert view.job.status == "completed" and view.job.attempts == 2
    assert [e["attempt"] for e in view.job.events if e["event"] == "processing"] == [2]


async def test_a_job_whose_workers_keep_dying_fails_and_is_refunded(
    app_and_client: Any, redis_prefix: str, standin: Any, tokens: Any, kit: SimpleNamespace, make_settings: Callable[..., Any]
) -> None:
    app, client = app_and_client
    resources = app.resources
    user = uuid.uuid4()
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(704)), headers=tokens.bearer(user))).json()["id"])
    for _ in range(resources.settings.job_max_deliveries):
        await resources.jobs.start(job_id)

    await resources.runner.run(job_id)

    view = await resources.jobs.load(job_id)
    assert view.job.status == "failed" and view.job.error["code"] == "worker_lost"
    assert standin.calls()["plant_id"] == 0
    assert await resources.redis.zcard(f"{redis_prefix}rl:user:{user}") == 0


async def test_an_outage_asks_for_a_retry_then_fails_with_the_reason(app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    standin.set("plant_id", "fail")
    standin.set("plantnet", "fail")
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(705)), headers=tokens.bearer())).json()["id"])

    first = await resources.runner.run(job_id, retries=0)
    last = await resources.runner.run(job_id, retries=1)  # job_max_retries=1: no more retries

    assert first.state == "retry" and 0.05 <= first.retry_in_s <= 0.2
    assert last.state == "done"
    view = await resources.jobs.load(job_id)
    assert view.job.status == "failed" and view.job.error["code"] == "service_unavailable"


def test_backoff_is_exponential_with_jitter_capped_and_respects_the_engines_hint() -> None:
    rng = random.Random(7)
    delays = [backoff_s(n, base_s=1, max_s=30, rng=rng) for n in range(7)]

    for n, delay in enumerate(delays):
        ceiling = min(30, 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({backoff_s(3, base_s=1, max_s=30, rng=rng) for _ in range(20)}) > 1  # jittered
    assert backoff_s(0, base_s=1, max_s=30, hint_s=12) == 12
    assert backoff_s(0, base_s=1, max_s=30, hint_s=3600) == 30


async def test_the_store_refuses_to_start_a_finished_job(app_and_client: Any, standin: Any, tokens: Any, kit: SimpleNamespace) -> None:
    app, client = app_and_client
    resources = app.resources
    job_id = uuid.UUID((await client.post(JOBS, files=kit.upload(kit.photo(706)), headers=tokens.bearer())).json()["id"])
    await resources.runner.run(job_id)

    assert await resources.jobs.start(job_id) is None
