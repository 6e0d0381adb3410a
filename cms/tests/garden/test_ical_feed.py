"""The iCalendar feed at a secret URL: RFC 5545, no sign-in, rotation cuts old URLs off."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from icalendar import Calendar

from plant_cms.garden.models import CareEvent

pytestmark = pytest.mark.django_db


def feed_path(member) -> str:
    return urlsplit(member.get("/api/v1/calendar/ical/").json()["ical_url"]).path


def test_the_feed_lists_care_events_as_all_day_events(member):
    plant = member.add_plant(nickname="Fern, the big one; really")
    member.post("/api/v1/calendar/tasks/", {"plant_id": plant["id"], "kind": "watering", "interval_days": 7, "notes": "Use rain water,\nnot tap."})
    done = CareEvent.objects.filter(owner_sub=member.sub).order_by("due_on").first()
    member.post(f"/api/v1/calendar/events/{done.id}/done/")

    response = Client().get(feed_path(member))  # no token: the URL is the secret

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["version"]) == "2.0" and "Plant Community" in str(calendar["prodid"])
    events = calendar.walk("VEVENT")
    assert len(events) >= 13  # 90 days ahead every 7 days, and the one done today
    summaries = [str(e["summary"]) for e in events]
    assert "✓ Watering: Fern, the big one; really" in summaries
    assert "Watering: Fern, the big one; really" in summaries
    pending = next(e for e in events if not str(e["summary"]).startswith("✓"))
    assert str(pending["description"]) == "Use rain water,\nnot tap."
    assert pending.decoded("dtstart").isoformat() == str(pending.decoded("dtstart"))  # a date: all day
    assert pending.walk("VALARM")
    assert b"Fern\\, the big one\\; really" in response.content  # RFC 5545 text escaping
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_an_unknown_or_rotated_feed_url_is_404_json(member):
    old = feed_path(member)
    member.post("/api/v1/calendar/ical/")

    response = Client().get(old)
    made_up = Client().get("/api/v1/calendar/ical/" + "A" * 43 + ".ics")

    assert response.status_code == made_up.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_turned_off_feed_is_404(member):
    path = feed_path(member)
    member.delete("/api/v1/calendar/ical/")

    assert Client().get(path).status_code == 404


def test_the_feed_answers_any_accept_header(member):
    response = Client().get(feed_path(member), HTTP_ACCEPT="text/calendar")

    assert response.status_code == 200
