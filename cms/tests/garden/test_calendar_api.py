"""/api/v1/calendar/: care tasks (CRUD), events by date range, done and skip, today's reminders."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from plant_cms.garden.models import CareEvent, CareTask

TASKS = "/api/v1/calendar/tasks/"
EVENTS = "/api/v1/calendar/events/"
TODAY = "/api/v1/calendar/today/"
pytestmark = pytest.mark.django_db


def today() -> date:
    return timezone.now().date()  # members without a profile live in UTC


def add_task(member, plant_id, **data):
    response = member.post(TASKS, {"plant_id": plant_id, "kind": "watering", "interval_days": 5, **data})
    assert response.status_code == 201, response.content
    return response.json()


def event_days(member, task_id, **params):
    body = member.get(EVENTS, {"task": task_id, "limit": 100, **params}).json()
    return [date.fromisoformat(e["due_on"]) for e in body["results"]]


def test_a_task_every_n_days_fills_the_calendar(member):
    plant = member.add_plant()

    task = add_task(member, plant["id"], title="Water <b>well</b>", notes="Rain water.")

    assert task["next_due"] == today().isoformat() and task["origin"] == "member" and task["title"] == "Water well"
    assert task["plant"] == {"id": plant["id"], "nickname": "Fern"}
    days = event_days(member, task["id"], end=(today() + timedelta(days=20)).isoformat())
    assert days == [today() + timedelta(days=n) for n in (0, 5, 10, 15, 20)]


def test_a_calendar_rule_task(member):
    plant = member.add_plant()
    start = today() + timedelta(days=1)

    task = add_task(member, plant["id"], kind="feeding", interval_days=None, rrule="freq=weekly;interval=2", next_due=start.isoformat())

    assert task["rrule"] == "FREQ=WEEKLY;INTERVAL=2" and task["interval_days"] is None
    assert event_days(member, task["id"], end=(start + timedelta(days=30)).isoformat()) == [start + timedelta(days=n) for n in (0, 14, 28)]


def test_listing_further_ahead_creates_the_events_it_needs(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"], interval_days=30)
    far = today() + timedelta(days=300)

    days = event_days(member, task["id"], start=(far - timedelta(days=29)).isoformat(), end=far.isoformat())

    assert len(days) == 1 and far - timedelta(days=29) <= days[0] <= far


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"interval_days": None}, "non_field_errors"),
        ({"rrule": "FREQ=DAILY"}, "non_field_errors"),  # both
        ({"interval_days": 0}, "interval_days"),
        ({"interval_days": "often"}, "interval_days"),
        ({"interval_days": None, "rrule": "FREQ=HOURLY"}, "rrule"),
        ({"interval_days": None, "rrule": "FREQ=DAILY;COUNT=3"}, "rrule"),
        ({"interval_days": None, "rrule": "FREQ=MONTHLY;BYMONTHDAY=31"}, "rrule"),
        ({"interval_days": None, "rrule": "FREQ=WEEKLY;" * 40}, "rrule"),
        ({"kind": "dancing"}, "kind"),
        ({"next_due": "2001-01-01"}, "next_due"),
        ({"dormant_interval_days": 10, "interval_days": None, "rrule": "FREQ=DAILY"}, "dormant_interval_days"),
        ({"plant_id": "nope"}, "plant_id"),
        ({"plant_id": str(uuid.uuid4())}, "plant_id"),
        ({"colour": "green"}, "colour"),
        ({"origin": "care_guide"}, "origin"),
        ({"title": "t" * 101}, "title"),
    ],
)
def test_bad_task_input_is_400(member, data, field):
    plant = member.add_plant()

    response = member.post(TASKS, {"plant_id": plant["id"], "kind": "watering", "interval_days": 5, **data})

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not CareTask.objects.filter(owner_sub=member.sub).exists()


def test_a_task_on_another_members_plant_reads_as_an_unknown_plant(member, other_member):
    theirs = other_member.add_plant()

    response = member.post(TASKS, {"plant_id": theirs["id"], "kind": "watering", "interval_days": 5})
    unknown = member.post(TASKS, {"plant_id": str(uuid.uuid4()), "kind": "watering", "interval_days": 5})

    assert response.status_code == 400
    assert response.json()["errors"] == unknown.json()["errors"] == {"plant_id": ["No plant with this id in your garden."]}


def test_another_members_tasks_and_events_are_not_found(member, other_member):
    theirs = add_task(other_member, other_member.add_plant()["id"])
    event = CareEvent.objects.filter(task_id=theirs["id"]).first()

    assert member.get(f"{TASKS}{theirs['id']}/").status_code == 404
    assert member.patch(f"{TASKS}{theirs['id']}/", {"interval_days": 2}).status_code == 404
    assert member.delete(f"{TASKS}{theirs['id']}/").status_code == 404
    assert member.get(f"{EVENTS}{event.id}/").status_code == 404
    assert member.post(f"{EVENTS}{event.id}/done/").status_code == 404
    assert member.get(EVENTS).json()["count"] == 0
    assert CareEvent.objects.get(pk=event.pk).status == "pending"


def test_editing_a_task_reschedules_its_pending_events(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"], interval_days=5)

    changed = member.patch(f"{TASKS}{task['id']}/", {"interval_days": 7, "next_due": (today() + timedelta(days=1)).isoformat()})

    assert changed.status_code == 200 and changed.json()["next_due"] == (today() + timedelta(days=1)).isoformat()
    assert event_days(member, task["id"], end=(today() + timedelta(days=15)).isoformat()) == [today() + timedelta(days=n) for n in (1, 8, 15)]


def test_switching_to_a_calendar_rule(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"], interval_days=5)

    changed = member.patch(f"{TASKS}{task['id']}/", {"rrule": "FREQ=DAILY;INTERVAL=3"})

    assert changed.status_code == 200, changed.content
    assert changed.json()["interval_days"] is None and changed.json()["rrule"] == "FREQ=DAILY;INTERVAL=3"


def test_pausing_a_task_removes_its_pending_events(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"])

    paused = member.patch(f"{TASKS}{task['id']}/", {"active": False})

    assert paused.json()["next_due"] is None
    assert not CareEvent.objects.filter(task_id=task["id"], status="pending").exists()
    resumed = member.patch(f"{TASKS}{task['id']}/", {"active": True})
    assert resumed.json()["next_due"] == today().isoformat()


def test_a_task_cannot_move_to_another_plant(member):
    first, second = member.add_plant(), member.add_plant(nickname="Other")
    task = add_task(member, first["id"])

    response = member.patch(f"{TASKS}{task['id']}/", {"plant_id": second["id"]})

    assert response.status_code == 400 and "plant_id" in response.json()["errors"]


def test_done_early_counts_the_next_one_from_today(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"], interval_days=5, next_due=(today() + timedelta(days=2)).isoformat())
    first = CareEvent.objects.filter(task_id=task["id"]).order_by("due_on").first()

    done = member.post(f"{EVENTS}{first.id}/done/")

    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["done_at"]
    pending = event_days(member, task["id"], status="pending", end=(today() + timedelta(days=15)).isoformat())
    assert pending == [today() + timedelta(days=n) for n in (5, 10, 15)]
    assert member.get(f"{TASKS}{task['id']}/").json()["next_due"] == (today() + timedelta(days=5)).isoformat()


def test_done_makes_up_for_missed_occurrences_and_skip_keeps_the_schedule(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"], interval_days=5)
    missed = CareEvent.objects.create(task_id=task["id"], owner_sub=member.sub, due_on=today() - timedelta(days=5))
    current = CareEvent.objects.get(task_id=task["id"], due_on=today())

    skipped = member.post(f"{EVENTS}{current.id}/skip/")

    assert skipped.json()["status"] == "skipped"
    assert CareEvent.objects.get(pk=missed.pk).status == "skipped"
    assert event_days(member, task["id"], status="pending", end=(today() + timedelta(days=10)).isoformat()) == [
        today() + timedelta(days=5), today() + timedelta(days=10)
    ]


def test_closing_twice_is_idempotent_and_changing_its_mind_is_refused(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"])
    event = CareEvent.objects.get(task_id=task["id"], due_on=today())

    first = member.post(f"{EVENTS}{event.id}/done/")
    again = member.post(f"{EVENTS}{event.id}/done/")
    other = member.post(f"{EVENTS}{event.id}/skip/")

    assert first.status_code == again.status_code == 200 and again.json()["done_at"] == first.json()["done_at"]
    assert other.status_code == 400


def test_done_takes_no_body(member):
    plant = member.add_plant()
    task = add_task(member, plant["id"])
    event = CareEvent.objects.get(task_id=task["id"], due_on=today())

    response = member.post(f"{EVENTS}{event.id}/done/", {"when": "yesterday"})

    assert response.status_code == 400 and "when" in response.json()["errors"]
    assert CareEvent.objects.get(pk=event.pk).status == "pending"


@pytest.mark.parametrize(
    "params",
    [{"start": "tomorrow"}, {"start": "2026-05-10", "end": "2026-05-01"}, {"start": "2026-01-01", "end": "2027-06-01"}, {"status": "eaten"}, {"plant": "x"}],
)
def test_bad_event_queries_are_400(member, params):
    response = member.get(EVENTS, params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_events_filter_by_plant_and_kind(member):
    first, second = member.add_plant(), member.add_plant(nickname="Second")
    add_task(member, first["id"])
    add_task(member, second["id"], kind="misting", interval_days=2)

    by_plant = member.get(EVENTS, {"plant": second["id"]}).json()["results"]
    by_kind = member.get(EVENTS, {"kind": "watering"}).json()["results"]

    assert by_plant and {e["plant"]["id"] for e in by_plant} == {second["id"]} and {e["kind"] for e in by_plant} == {"misting"}
    assert by_kind and {e["plant"]["nickname"] for e in by_kind} == {"Fern"}


def test_today_lists_due_and_overdue_in_the_members_time_zone(member):
    plant = member.add_plant(nickname="Basil")
    task = add_task(member, plant["id"], interval_days=3)
    CareEvent.objects.create(task_id=task["id"], owner_sub=member.sub, due_on=today() - timedelta(days=3))
    member.patch("/api/v1/garden/profile/", {"timezone": "Pacific/Kiritimati"})  # UTC+14

    body = member.get(TODAY).json()

    assert body["timezone"] == "Pacific/Kiritimati"
    local_today = date.fromisoformat(body["date"])
    assert local_today in (today(), today() + timedelta(days=1))
    assert body["overdue_count"] == len(body["overdue"]) >= 1
    assert all(e["overdue"] for e in body["overdue"]) and all(e["plant"]["nickname"] == "Basil" for e in body["overdue"] + body["due"])
    assert all(e["due_on"] == body["date"] for e in body["due"])


def test_the_calendar_needs_a_member_token(client, db):
    assert client.get(TASKS).status_code == 401
    assert client.get(EVENTS).status_code == 401
    assert client.get(TODAY).status_code == 401
