"""`send_care_reminders`: one reminder per member and local day, through the notification backend."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone as dt_timezone

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from plant_cms.garden.models import CareEvent, CareTask, ReminderDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(settings, tmp_path):
    path = tmp_path / "notifications.jsonl"
    settings.NOTIFICATION_BACKEND = "file"
    settings.NOTIFICATION_FILE_PATH = str(path)

    def read() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


def at(day, hour: int) -> str:
    return datetime.combine(day, time(hour), tzinfo=dt_timezone.utc).isoformat()


def daily_task(member, nickname="Basil"):
    plant = member.add_plant(nickname=nickname)
    response = member.post("/api/v1/calendar/tasks/", {"plant_id": plant["id"], "kind": "watering", "interval_days": 1})
    assert response.status_code == 201
    return response.json()


def test_one_reminder_per_member_and_day(member, other_member, outbox):
    today = timezone.now().date()
    task = daily_task(member)
    daily_task(other_member, "Mint")
    CareEvent.objects.create(task_id=task["id"], owner_sub=member.sub, due_on=today - timedelta(days=2))

    call_command("send_care_reminders", at=at(today, 9))
    call_command("send_care_reminders", at=at(today, 15))

    sent = outbox()
    assert sorted(n["recipient_sub"] for n in sent) == sorted([str(member.sub), str(other_member.sub)])
    mine = next(n for n in sent if n["recipient_sub"] == str(member.sub))
    assert mine["kind"] == "care_reminder" and mine["subject"] == "2 plant care tasks for today"
    assert mine["data"]["due"] == 1 and mine["data"]["overdue"] == 1 and mine["data"]["date"] == today.isoformat()
    assert "Basil" in mine["body"] and {i["plant"] for i in mine["data"]["items"]} == {"Basil"}
    assert ReminderDelivery.objects.filter(owner_sub=member.sub, local_date=today).count() == 1

    call_command("send_care_reminders", at=at(today + timedelta(days=1), 9))
    assert len(outbox()) == 4


def test_nothing_before_the_members_reminder_hour_or_when_turned_off(member, other_member, outbox):
    today = timezone.now().date()
    daily_task(member)
    daily_task(other_member)
    member.patch("/api/v1/garden/profile/", {"reminder_hour": 18})
    other_member.patch("/api/v1/garden/profile/", {"reminders_enabled": False})

    call_command("send_care_reminders", at=at(today, 17))
    assert outbox() == []
    call_command("send_care_reminders", at=at(today, 18))
    assert [n["recipient_sub"] for n in outbox()] == [str(member.sub)]


def test_the_members_local_day_counts(member, outbox):
    today = timezone.now().date()
    member.patch("/api/v1/garden/profile/", {"timezone": "Pacific/Kiritimati"})  # UTC+14
    daily_task(member)

    call_command("send_care_reminders", at=at(today, 20))  # 10:00 tomorrow there

    [sent] = outbox()
    assert sent["data"]["date"] == (today + timedelta(days=1)).isoformat()


def test_a_failed_send_leaves_no_mark_and_is_retried(member, settings, tmp_path, outbox):
    today = timezone.now().date()
    daily_task(member)
    good_path = settings.NOTIFICATION_FILE_PATH
    settings.NOTIFICATION_FILE_PATH = str(tmp_path)  # a directory: the write fails

    with pytest.raises(CommandError):
        call_command("send_care_reminders", at=at(today, 9))
    assert not ReminderDelivery.objects.exists()

    settings.NOTIFICATION_FILE_PATH = good_path
    call_command("send_care_reminders", at=at(today, 10))
    assert len(outbox()) == 1


def test_the_job_keeps_every_calendar_filled_ahead(member, outbox):
    today = timezone.now().date()
    task = daily_task(member)
    CareEvent.objects.filter(task_id=task["id"]).delete()
    CareTask.objects.filter(pk=task["id"]).update(scheduled_until=today - timedelta(days=1), anchor_on=today - timedelta(days=30))

    call_command("send_care_reminders", at=at(today, 9))

    assert CareEvent.objects.filter(task_id=task["id"], due_on=today).exists()
    assert CareTask.objects.get(pk=task["id"]).scheduled_until >= today + timedelta(days=30)
    assert len(outbox()) == 1


def test_console_backend_prints_json_lines(member, settings, capsys):
    settings.NOTIFICATION_BACKEND = "console"
    daily_task(member)

    call_command("send_care_reminders", at=at(timezone.now().date(), 9))

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{") and '"care_reminder"' in line]
    assert [n["recipient_sub"] for n in lines] == [str(member.sub)]


def test_bad_arguments_and_backends_are_clear_errors(settings):
    with pytest.raises(CommandError):
        call_command("send_care_reminders", at="tomorrow")
    with pytest.raises(CommandError):
        call_command("send_care_reminders", at="2026-05-01T09:00:00")
    settings.NOTIFICATION_BACKEND = "pigeon"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        call_command("send_care_reminders")
