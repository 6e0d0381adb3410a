"""/api/v1/garden/profile/ and the calendar feed settings."""

from __future__ import annotations

import pytest

from plant_cms.garden.models import MemberProfile

PROFILE = "/api/v1/garden/profile/"
pytestmark = pytest.mark.django_db


def test_the_profile_exists_with_defaults_on_first_read(member):
    body = member.get(PROFILE).json()

    assert body["has_pets"] is False and body["has_children"] is False
    assert body["timezone"] == "UTC" and body["hemisphere"] == "north" and body["reminder_hour"] == 8
    assert body["ical_url"].startswith("http") and body["ical_url"].endswith(".ics")
    assert body["webcal_url"].startswith("webcal://")
    assert MemberProfile.objects.filter(owner_sub=member.sub).count() == 1


def test_the_profile_is_updated_and_is_the_members_own(member, other_member):
    member.patch(PROFILE, {"has_pets": True, "timezone": "Europe/Paris", "reminder_hour": 19})
    replaced = member.put(PROFILE, {"has_children": True, "hemisphere": "south"})

    assert replaced.status_code == 200
    body = replaced.json()
    assert (body["has_pets"], body["has_children"], body["timezone"], body["hemisphere"], body["reminder_hour"]) == (True, True, "Europe/Paris", "south", 19)
    assert other_member.get(PROFILE).json()["has_pets"] is False


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"reminder_hour": 24}, "reminder_hour"),
        ({"has_pets": "sometimes"}, "has_pets"),
        ({"hemisphere": "east"}, "hemisphere"),
        ({"ical_token": "mine"}, "ical_token"),
        ({"ical_url": "http://x"}, "ical_url"),
    ],
)
def test_bad_profile_input_is_400(member, data, field):
    response = member.patch(PROFILE, data)

    assert response.status_code == 400 and field in response.json()["errors"]


def test_feed_url_rotation_and_turning_it_off(member):
    first = member.get("/api/v1/calendar/ical/").json()["ical_url"]

    rotated = member.post("/api/v1/calendar/ical/").json()["ical_url"]
    off = member.delete("/api/v1/calendar/ical/")

    assert rotated != first and rotated.endswith(".ics")
    assert off.status_code == 204
    assert member.get("/api/v1/calendar/ical/").json() == {"ical_url": None, "webcal_url": None}
    assert member.get(PROFILE).json()["ical_url"] is None
    assert member.post("/api/v1/calendar/ical/").json()["ical_url"]
