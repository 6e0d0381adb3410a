"""`consume_account_events`: user.deleted on the Redis stream erases the member's garden."""

from __future__ import annotations

import io
import uuid

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from plant_cms.accounts.events import AccountEventConsumer
from plant_cms.garden.models import CareEvent, CareTask, GardenPlant, MemberProfile, PlantPhoto
from plant_cms.garden.storage import garden_photo_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream(settings):
    """A stream and group of this test only, on the deny-list Redis (db 4); deleted afterwards."""
    name = f"test:events:accounts:{uuid.uuid4()}"
    settings.ACCOUNT_EVENTS_STREAM = name
    settings.ACCOUNT_EVENTS_GROUP = "cms"
    client = redis.Redis.from_url(settings.ACCOUNT_EVENTS_REDIS_URL)
    yield client, name
    client.delete(name)
    client.close()


def publish(stream, **fields) -> bytes:
    client, name = stream
    return client.xadd(name, {k: str(v) for k, v in fields.items()})


def pending(stream) -> int:
    client, name = stream
    return client.xpending(name, "cms")["pending"]


def garden_of(member):
    plant = member.add_plant(nickname="Doomed")
    member.post("/api/v1/calendar/tasks/", {"plant_id": plant["id"], "kind": "watering", "interval_days": 3})
    member.patch("/api/v1/garden/profile/", {"has_pets": True})
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    member.upload(f"/api/v1/garden/plants/{plant['id']}/photos/", {"image": SimpleUploadedFile("p.jpg", out.getvalue())})
    return plant


def rows(sub) -> int:
    return sum(model.objects.filter(owner_sub=sub).count() for model in (GardenPlant, PlantPhoto, CareTask, CareEvent, MemberProfile))


def test_a_deleted_account_loses_its_garden_and_nobody_else_does(member, other_member, stream):
    garden_of(member)
    garden_of(other_member)
    photo = PlantPhoto.objects.get(owner_sub=member.sub).image.name
    publish(stream, event="user.deleted", user_id=member.sub, occurred_at="2026-11-22T00:00:00+00:00")

    out = io.StringIO()
    call_command("consume_account_events", "--once", stdout=out)

    assert rows(member.sub) == 0
    assert not garden_photo_storage().exists(photo)
    assert rows(other_member.sub) > 0 and PlantPhoto.objects.filter(owner_sub=other_member.sub).count() == 1
    assert pending(stream) == 0
    assert "1 erased" in out.getvalue()


def test_processing_is_idempotent_and_history_is_read_from_the_start(member, stream):
    garden_of(member)
    # Published before the CMS's consumer group existed: still processed.
    publish(stream, event="user.deleted", user_id=member.sub)
    publish(stream, event="user.deleted", user_id=member.sub)

    call_command("consume_account_events", "--once", stdout=io.StringIO())
    call_command("consume_account_events", "--once", stdout=io.StringIO())

    assert rows(member.sub) == 0 and pending(stream) == 0


def test_unknown_events_and_malformed_ids_are_acknowledged_and_ignored(member, stream):
    garden_of(member)
    publish(stream, event="user.renamed", user_id=member.sub)
    publish(stream, event="user.deleted", user_id="not-a-uuid")
    publish(stream, something="else")

    out = io.StringIO()
    call_command("consume_account_events", "--once", stdout=out)

    assert rows(member.sub) > 0 and pending(stream) == 0
    assert "3 ignored" in out.getvalue()


def test_the_editor_user_of_a_deleted_account_is_deactivated_and_anonymised(stream, db):
    sub = str(uuid.uuid4())
    user = get_user_model().objects.create(username=sub, email="ed@example.org", first_name="Ed", is_superuser=True)
    publish(stream, event="user.deleted", user_id=sub)

    call_command("consume_account_events", "--once", stdout=io.StringIO())

    user.refresh_from_db()
    assert not user.is_active and not user.is_superuser and user.email == "" and user.first_name == ""


def test_a_failure_leaves_the_entry_pending_and_it_is_retried(member, stream, settings):
    garden_of(member)
    publish(stream, event="user.deleted", user_id=member.sub)
    client, name = stream
    calls: list[uuid.UUID] = []

    def broken(user_id: uuid.UUID) -> None:
        calls.append(user_id)
        raise RuntimeError("database away")

    failing = AccountEventConsumer(client, stream=name, group="cms", consumer="worker-a", handle_deleted=broken)
    failing.ensure_group()
    failing.poll(block=False)

    assert calls == [member.sub] and pending(stream) == 1 and rows(member.sub) > 0

    # Another worker takes over what the dead one left pending.
    rescuer = AccountEventConsumer(client, stream=name, group="cms", consumer="worker-b", claim_idle_ms=0)
    rescuer.poll(block=False)

    assert pending(stream) == 0 and rows(member.sub) == 0


def test_once_fails_loudly_when_redis_is_away(settings, dead_redis_url):
    settings.ACCOUNT_EVENTS_REDIS_URL = dead_redis_url

    with pytest.raises(CommandError):
        call_command("consume_account_events", "--once", stdout=io.StringIO())
