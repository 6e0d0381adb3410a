"""The member's care calendar as an RFC 5545 feed that phone calendars subscribe to."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Iterable

from django.conf import settings
from django.utils import timezone
from icalendar import Alarm, Calendar, Event

from plant_cms.garden.models import CareEvent, MemberProfile

PRODID = "-//Plant Community//Care calendar//EN"
UID_DOMAIN = "care.plant-community"
PAST_DAYS = 30
FUTURE_DAYS = 90


def window(today: date) -> tuple[date, date]:
    return today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)


def build_feed(profile: MemberProfile, events: Iterable[CareEvent]) -> bytes:
    """One all-day VEVENT per care event (pending, done or skipped), with an alarm at the member's
    reminder hour for pending ones. Text is escaped by `icalendar`; the UID is stable per event,
    so a calendar updates an event in place when its status changes."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{settings.WAGTAIL_SITE_NAME}: plant care")
    calendar.add("x-wr-timezone", profile.timezone)
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT6H")
    stamp = timezone.now()
    for care in events:
        task, plant = care.task, care.task.plant
        event = Event()
        event.add("uid", f"{care.id}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", care.due_on)
        event.add("dtend", care.due_on + timedelta(days=1))
        title = f"{task}: {plant.nickname}"
        if care.status == CareEvent.Status.DONE:
            title = f"✓ {title}"
        event.add("summary", title)
        if task.notes:
            event.add("description", task.notes)
        event.add("categories", [task.get_kind_display()])
        event.add("status", "CANCELLED" if care.status == CareEvent.Status.SKIPPED else "CONFIRMED")
        event.add("transp", "TRANSPARENT")  # a care task does not make the member "busy"
        if care.status == CareEvent.Status.PENDING and profile.reminders_enabled:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", title)
            # All-day events start at local midnight: trigger at the member's reminder hour.
            alarm.add("trigger", timedelta(hours=profile.reminder_hour))
            event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()

