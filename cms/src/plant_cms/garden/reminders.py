"""The daily care reminder: one message per member and local day listing what is due or overdue.

Run often (every 15 minutes or hourly): a member is reminded once their local time has reached
their `reminder_hour`, and at most once per local day (`ReminderDelivery`, unique per member and
day, is written in the same transaction as the send; a failed send leaves no mark, so the next run
tries again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from plant_cms.garden.models import CareEvent, CareTask, MemberProfile, ReminderDelivery
from plant_cms.garden.notifications import Notification, NotificationBackend
from plant_cms.garden.schedule import INITIAL_HORIZON, extend, local_now, profile_for

log = logging.getLogger("plant_cms.garden.reminders")

# Keep at least this much of every active task's calendar created ahead.
KEEP_AHEAD = timedelta(days=30)
MAX_ITEMS_LISTED = 50


@dataclass
class ReminderRun:
    sent: int = 0
    already_sent: int = 0
    not_yet: int = 0
    failed: int = 0


def extend_horizons(now: datetime) -> int:
    """Create events ahead for every active task whose calendar ends within `KEEP_AHEAD`.

    Returns:
        How many tasks were extended.
    """
    soon = now.date() + KEEP_AHEAD
    tasks = CareTask.objects.filter(active=True).filter(Q(scheduled_until__isnull=True) | Q(scheduled_until__lt=soon)).order_by("owner_sub")
    profiles: dict[object, MemberProfile] = {}
    count = 0
    for task in tasks.iterator(chunk_size=500):
        profile = profiles.get(task.owner_sub)
        if profile is None:
            profile = profiles[task.owner_sub] = profile_for(task.owner_sub)
        today = local_now(profile, now).date()
        extend(task, today + INITIAL_HORIZON, today=today, hemisphere=profile.hemisphere)
        count += 1
    return count


def _notification(owner_sub: object, today: object, events: list[CareEvent]) -> Notification:
    due = [e for e in events if e.due_on == today]
    overdue = [e for e in events if e.due_on < today]  # type: ignore[operator]
    items = [
        {
            "event_id": str(e.id),
            "plant_id": str(e.task.plant_id),
            "plant": e.task.plant.nickname,
            "kind": e.task.kind,
            "task": str(e.task),
            "due_on": e.due_on.isoformat(),
            "overdue": e.due_on < today,  # type: ignore[operator]
        }
        for e in events[:MAX_ITEMS_LISTED]
    ]
    lines = [f"- {item['task']}: {item['plant']}" + (f" (due {item['due_on']})" if item["overdue"] else "") for item in items]
    if len(events) > MAX_ITEMS_LISTED:
        lines.append(f"... and {len(events) - MAX_ITEMS_LISTED} more.")
    count = len(events)
    subject = f"{count} plant care task{'s' if count != 1 else ''} for today"
    intro = f"Due today: {len(due)}." + (f" Overdue: {len(overdue)}." if overdue else "")
    return Notification(
        recipient_sub=str(owner_sub),
        kind="care_reminder",
        subject=subject,
        body="\n".join([intro, *lines]),
        data={"date": today.isoformat(), "due": len(due), "overdue": len(overdue), "items": items},  # type: ignore[attr-defined]
    )


def send_due_reminders(backend: NotificationBackend, *, now: datetime | None = None) -> ReminderRun:
    """Send today's reminders that are due and not sent yet; see the module docstring."""
    now = now or timezone.now()
    run = ReminderRun()
    extend_horizons(now)
    # Local dates run at most 14 hours ahead of UTC: nothing due later than tomorrow (UTC) matters.
    candidates = (
        CareEvent.objects.filter(status=CareEvent.Status.PENDING, due_on__lte=now.date() + timedelta(days=1), task__active=True)
        .values_list("owner_sub", flat=True)
        .distinct()
    )
    owners = list(candidates)
    profiles = {p.owner_sub: p for p in MemberProfile.objects.filter(owner_sub__in=owners)}
    for owner in owners:
        profile = profiles.get(owner) or profile_for(owner)
        if not profile.reminders_enabled:
            continue
        local = local_now(profile, now)
        if local.hour < profile.reminder_hour:
            run.not_yet += 1
            continue
        today = local.date()
        events = list(
            CareEvent.objects.filter(owner_sub=owner, status=CareEvent.Status.PENDING, due_on__lte=today, task__active=True)
            .select_related("task__plant")
            .order_by("due_on", "task__plant__nickname")
        )
        if not events:
            continue
        try:
            with transaction.atomic():
                _, created = ReminderDelivery.objects.get_or_create(owner_sub=owner, local_date=today, defaults={"event_count": len(events)})
                if not created:
                    run.already_sent += 1
                    continue
                backend.send(_notification(owner, today, events))
        except Exception:  # noqa: BLE001 - one member's failure must not stop the others
            log.exception("care reminder not sent", extra={"owner_sub": str(owner)})
            run.failed += 1
            continue
        run.sent += 1
    return run
