"""The care calendar's rules: which events a task has, and what marking one done or skipped does.

Events are created ahead of time, up to a horizon (`scheduled_until`), and extended when a member
looks further ahead or the daily reminder job runs. Creating them is idempotent: one event per task
and day (a unique constraint), so concurrent extensions cannot duplicate anything.

- Done on an every-N-days task restarts its chain from the day it was done (watered late, next
  watering later); calendar-rule tasks keep their dates.
- Done or skipped also closes older pending events of the same task: one watering makes up for
  the missed ones.
- Changing a task's recurrence, start or `active` flag replaces its pending events.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from plant_cms.garden.care_guide import TaskSpec
from plant_cms.garden.models import CareEvent, CareTask, GardenPlant, MemberProfile
from plant_cms.garden.recurrence import interval_dates, interval_for, rule_dates

INITIAL_HORIZON = timedelta(days=60)
MAX_HORIZON = timedelta(days=400)


def profile_for(owner_sub: object, *, create: bool = False) -> MemberProfile:
    """The member's profile; an unsaved default one when there is none (saved if `create`)."""
    profile = MemberProfile.objects.filter(owner_sub=owner_sub).first()
    if profile is None:
        if create:
            profile, _ = MemberProfile.objects.get_or_create(owner_sub=owner_sub)
        else:
            profile = MemberProfile(owner_sub=owner_sub, ical_token=None)
    return profile


def local_now(profile: MemberProfile, now: datetime | None = None) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(profile.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return (now or timezone.now()).astimezone(zone)


def local_today(profile: MemberProfile, now: datetime | None = None) -> date:
    return local_now(profile, now).date()


def due_dates(task: CareTask, *, start: date, until: date, hemisphere: str) -> Iterable[date]:
    """Days in [`start`, `until`] on which `task` falls due."""
    if task.rrule:
        return rule_dates(task.rrule, anchor=task.anchor_on, start=start, until=until)
    return interval_dates(
        anchor=task.anchor_on,
        start=start,
        until=until,
        interval_days=task.interval_days,  # type: ignore[arg-type]
        dormant_interval_days=task.dormant_interval_days,
        hemisphere=hemisphere,
    )


# How far past the created events `next_due` looks for a rare task (repotting every few years).
NEXT_DUE_LOOKAHEAD = timedelta(days=5 * 366)


def _refresh_next_due(task: CareTask, *, today: date, hemisphere: str) -> None:
    """`next_due`: the earliest pending event, or else the first day past the created ones."""
    task.next_due = task.events.filter(status=CareEvent.Status.PENDING).aggregate(first=Min("due_on"))["first"]
    if task.next_due is None and task.active:
        start = max(task.scheduled_until + timedelta(days=1) if task.scheduled_until else task.anchor_on, today)
        task.next_due = next(iter(due_dates(task, start=start, until=start + NEXT_DUE_LOOKAHEAD, hemisphere=hemisphere)), None)


def extend(task: CareTask, until: date, *, today: date, hemisphere: str) -> None:
    """Create the task's pending events up to `until` (at most `MAX_HORIZON` after `today`)."""
    until = min(until, today + MAX_HORIZON)
    if not task.active or (task.scheduled_until is not None and task.scheduled_until >= until):
        return
    start = task.scheduled_until + timedelta(days=1) if task.scheduled_until else max(task.anchor_on, today)
    days = list(due_dates(task, start=start, until=until, hemisphere=hemisphere))
    CareEvent.objects.bulk_create(
        [CareEvent(task=task, owner_sub=task.owner_sub, due_on=day) for day in days], ignore_conflicts=True
    )
    task.scheduled_until = until
    _refresh_next_due(task, today=today, hemisphere=hemisphere)
    CareTask.objects.filter(pk=task.pk).update(scheduled_until=task.scheduled_until, next_due=task.next_due, updated_at=timezone.now())


def extend_all(owner_sub: object, until: date, *, profile: MemberProfile | None = None) -> None:
    """Extend every active task of a member up to `until`."""
    profile = profile or profile_for(owner_sub)
    today = local_today(profile)
    limit = min(until, today + MAX_HORIZON)
    for task in CareTask.objects.filter(owner_sub=owner_sub, active=True).exclude(scheduled_until__gte=limit):
        extend(task, limit, today=today, hemisphere=profile.hemisphere)


def reschedule(task: CareTask, *, today: date, hemisphere: str) -> None:
    """Replace the task's pending events from today on after a change to its recurrence, start or
    `active` (overdue ones stay, unless the task is paused)."""
    pending = task.events.filter(status=CareEvent.Status.PENDING)
    (pending if not task.active else pending.filter(due_on__gte=today)).delete()
    task.scheduled_until = None
    task.next_due = None
    task.save(update_fields=["scheduled_until", "next_due", "updated_at"])
    extend(task, today + INITIAL_HORIZON, today=today, hemisphere=hemisphere)
    task.refresh_from_db(fields=["scheduled_until", "next_due"])


def create_task(plant: GardenPlant, spec: TaskSpec, *, first_due: date, today: date, hemisphere: str, origin: str, notes: str = "") -> CareTask:
    task = CareTask.objects.create(
        plant=plant,
        owner_sub=plant.owner_sub,
        kind=spec.kind,
        title=spec.title,
        interval_days=spec.interval_days,
        dormant_interval_days=spec.dormant_interval_days,
        rrule=spec.rrule,
        anchor_on=first_due,
        origin=origin,
        notes=notes,
    )
    extend(task, today + INITIAL_HORIZON, today=today, hemisphere=hemisphere)
    task.refresh_from_db(fields=["scheduled_until", "next_due"])
    return task


def create_tasks_from_guide(plant: GardenPlant, specs: Iterable[TaskSpec], *, profile: MemberProfile) -> list[CareTask]:
    """The plant's care tasks from its species' care guide, starting today."""
    today = local_today(profile)
    return [
        create_task(plant, spec, first_due=today, today=today, hemisphere=profile.hemisphere, origin=CareTask.Origin.CARE_GUIDE)
        for spec in specs
    ]


@transaction.atomic
def close_event(event: CareEvent, status: str, *, profile: MemberProfile, now: datetime | None = None) -> CareEvent:
    """Mark an event done or skipped, and move the task's schedule on (see the module docstring).

    Idempotent: closing a closed event again changes nothing.
    """
    now = now or timezone.now()
    task = CareTask.objects.select_for_update().get(pk=event.task_id)
    event = CareEvent.objects.select_for_update().get(pk=event.pk)
    if event.status != CareEvent.Status.PENDING:
        return event
    event.status = status
    event.done_at = now
    event.save(update_fields=["status", "done_at"])
    # Older occurrences nobody did are made up for by this one.
    task.events.filter(status=CareEvent.Status.PENDING, due_on__lt=event.due_on).update(status=CareEvent.Status.SKIPPED, done_at=now)
    today = local_today(profile, now)
    if status == CareEvent.Status.DONE and not task.rrule and task.active:
        # Counted from the day it was actually done, whatever day it was due.
        task.anchor_on = today + timedelta(
            days=interval_for(today, interval_days=task.interval_days, dormant_interval_days=task.dormant_interval_days, hemisphere=profile.hemisphere)  # type: ignore[arg-type]
        )
        task.events.filter(status=CareEvent.Status.PENDING, due_on__gt=event.due_on).delete()
        task.scheduled_until = None
        task.save(update_fields=["anchor_on", "scheduled_until", "updated_at"])
        extend(task, today + INITIAL_HORIZON, today=today, hemisphere=profile.hemisphere)
    else:
        _refresh_next_due(task, today=today, hemisphere=profile.hemisphere)
        task.save(update_fields=["next_due", "updated_at"])
    event.task = task
    return event
