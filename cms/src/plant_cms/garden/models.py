"""The members' garden: plants, their photos, care tasks and the calendar events they produce.

The CMS keeps no member accounts: every row is keyed by the member's `sub` (the user UUID in the
platform's access token), and every query a member can trigger is filtered by it. Public ids are
random UUIDs, never sequential numbers.
"""

from __future__ import annotations

import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from plant_cms.garden.storage import garden_photo_storage

NICKNAME_MAX = 100
LOCATION_MAX = 100
NOTES_MAX = 5_000
CAPTION_MAX = 200
TASK_TITLE_MAX = 100
TASK_NOTES_MAX = 1_000
TIMEZONE_MAX = 64


def new_ical_token() -> str:
    """A secret for the calendar feed URL: 256 bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class MemberProfile(models.Model):
    """What the garden needs to know about a member's household and calendar.

    Created on first use. `ical_token` is the secret part of the member's calendar feed URL (no
    sign-in there, as phone calendars cannot send tokens); rotating it cuts off old subscriptions.
    """

    class Hemisphere(models.TextChoices):
        NORTH = "north", "Northern"
        SOUTH = "south", "Southern"

    owner_sub = models.UUIDField(unique=True)
    has_pets = models.BooleanField(default=False)
    has_children = models.BooleanField(default=False)
    timezone = models.CharField(max_length=TIMEZONE_MAX, default="UTC", help_text="IANA name, e.g. Europe/Paris.")
    # Growing and feeding seasons are six months apart in the two hemispheres.
    hemisphere = models.CharField(max_length=5, choices=Hemisphere.choices, default=Hemisphere.NORTH)
    reminders_enabled = models.BooleanField(default=True)
    reminder_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)], help_text="Local hour the daily reminder is sent from.")
    ical_token = models.CharField(max_length=64, unique=True, null=True, default=new_ical_token)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile {self.owner_sub}"


class GardenPlant(models.Model):
    """One plant in a member's collection, optionally bound to a `species.PlantSpecies` record
    (whose care guide seeds the plant's care tasks) and to the identification request it came from
    (the gateway's request UUID, kept as a reference only)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner_sub = models.UUIDField(db_index=True)
    nickname = models.CharField(max_length=NICKNAME_MAX)
    species = models.ForeignKey("species.PlantSpecies", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    identification_request_id = models.UUIDField(null=True, blank=True)
    location = models.CharField(max_length=LOCATION_MAX, blank=True)
    acquired_on = models.DateField(null=True, blank=True)
    notes = models.TextField(max_length=NOTES_MAX, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["owner_sub", "-created_at"], name="garden_plant_owner_created")]

    def __str__(self) -> str:
        return self.nickname


def photo_path(photo: PlantPhoto, filename: str) -> str:
    # The member's folder, so erasure can remove it whole; a random name, never the uploaded one.
    return f"{photo.owner_sub}/{photo.id}.{filename.rsplit('.', 1)[-1]}"


class PlantPhoto(models.Model):
    """A photo of a member's plant: re-encoded on upload (no EXIF, so no GPS position), stored in
    the private photo storage and served only to its owner through the API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plant = models.ForeignKey(GardenPlant, on_delete=models.CASCADE, related_name="photos")
    owner_sub = models.UUIDField(db_index=True)
    image = models.FileField(upload_to=photo_path, storage=garden_photo_storage, max_length=200)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    caption = models.CharField(max_length=CAPTION_MAX, blank=True)
    taken_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"photo {self.id}"


class CareTask(models.Model):
    """A recurring care task for one plant, with exactly one of two kinds of recurrence:

    - `interval_days`: every N days counted from when it was last done (watering), optionally
      `dormant_interval_days` in the dormant months of the member's hemisphere;
    - `rrule`: an RFC 5545 rule subset counted on the calendar (feeding every 2 weeks from April to
      September), starting at `anchor_on`.

    Its `CareEvent`s are created ahead of time up to `scheduled_until`; `next_due` is the earliest
    pending one.
    """

    class Kind(models.TextChoices):
        WATERING = "watering", "Watering"
        FEEDING = "feeding", "Feeding"
        REPOTTING = "repotting", "Repotting"
        PRUNING = "pruning", "Pruning"
        MISTING = "misting", "Misting"
        OTHER = "other", "Other"

    class Origin(models.TextChoices):
        CARE_GUIDE = "care_guide", "From the species' care guide"
        MEMBER = "member", "Added by the member"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plant = models.ForeignKey(GardenPlant, on_delete=models.CASCADE, related_name="tasks")
    owner_sub = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=TASK_TITLE_MAX, blank=True)
    interval_days = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(730)])
    dormant_interval_days = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(730)])
    rrule = models.CharField(max_length=200, blank=True)
    anchor_on = models.DateField()
    next_due = models.DateField(null=True, blank=True)
    scheduled_until = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.MEMBER)
    notes = models.TextField(max_length=TASK_NOTES_MAX, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["next_due", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="garden_task_one_recurrence",
                condition=(Q(interval_days__isnull=False) & Q(rrule="")) | (Q(interval_days__isnull=True) & ~Q(rrule="")),
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()


class CareEvent(models.Model):
    """One occurrence of a care task on a day: pending, done or skipped."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(CareTask, on_delete=models.CASCADE, related_name="events")
    owner_sub = models.UUIDField()
    due_on = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "task_id"]
        constraints = [models.UniqueConstraint(fields=["task", "due_on"], name="garden_event_one_per_task_day")]
        indexes = [models.Index(fields=["owner_sub", "due_on"], name="garden_event_owner_due")]

    def __str__(self) -> str:
        return f"{self.task} on {self.due_on}"


class ReminderDelivery(models.Model):
    """The daily reminder sent to a member for one local day: the mark that makes
    `send_care_reminders` idempotent (at most one per member and day)."""

    owner_sub = models.UUIDField()
    local_date = models.DateField()
    event_count = models.PositiveIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner_sub", "local_date"], name="garden_reminder_once_a_day")]

    def __str__(self) -> str:
        return f"reminder {self.owner_sub} {self.local_date}"
