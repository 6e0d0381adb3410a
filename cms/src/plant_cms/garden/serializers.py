"""What members send and read. Every input serializer refuses unknown and read-only keys, and
every free-text field is stored as plain text (`PlainTextField`)."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from plant_cms.core.strict_input import RejectUnknownFieldsMixin
from plant_cms.garden import models as m
from plant_cms.garden.care_guide import household_warnings
from plant_cms.garden.recurrence import RecurrenceError, normalise_rule
from plant_cms.garden.text import PlainTextField
from plant_cms.species.models import PlantSpecies

EARLIEST_DATE = date(1900, 1, 1)


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def feed_urls(token: str | None) -> dict[str, str | None]:
    if not token:
        return {"ical_url": None, "webcal_url": None}
    url = f"{settings.PUBLIC_BASE_URL}/api/v1/calendar/ical/{token}.ics"
    return {"ical_url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}


def member_today(context: dict[str, Any]) -> date:
    return context["today"]


# --- Species, as a plant shows it ------------------------------------------------------------------


class SpeciesSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    scientific_name = serializers.CharField(read_only=True)
    common_name = serializers.SerializerMethodField()
    toxicity = serializers.SerializerMethodField()
    page_id = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_common_name(self, species: PlantSpecies) -> str | None:
        names = [row for row in species.common_names.all()]
        english = [row.name for row in names if row.language == "en"]
        return (english or [row.name for row in names] or [None])[0]

    @extend_schema_field({"type": "object", "properties": {"people": {"type": "string"}, "pets": {"type": "string"}}})
    def get_toxicity(self, species: PlantSpecies) -> dict[str, str]:
        return {"people": species.toxicity_people, "pets": species.toxicity_pets}

    @extend_schema_field(OpenApiTypes.INT)
    def get_page_id(self, species: PlantSpecies) -> int | None:
        page = getattr(species, "page", None) if _has_page(species) else None
        return page.pk if page is not None and page.live else None


def _has_page(species: PlantSpecies) -> bool:
    try:
        species.page  # noqa: B018
    except Exception:  # noqa: BLE001 - RelatedObjectDoesNotExist
        return False
    return True


class WarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["toxic_to_pets", "toxic_to_children"], read_only=True)
    severity = serializers.ChoiceField(choices=["mild", "moderate", "severe"], read_only=True)
    detail = serializers.CharField(read_only=True)


# --- Photos ------------------------------------------------------------------------------------------


class PhotoSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A photo of a plant; the image itself is at `image_url` (owner only)."""

    image = serializers.FileField(write_only=True, help_text="JPEG, PNG or WebP, at most 10 MB and 40 million pixels.")
    caption = PlainTextField(max_length=m.CAPTION_MAX, required=False, allow_blank=True)
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = m.PlantPhoto
        fields = ["id", "image", "image_url", "caption", "taken_on", "content_type", "width", "height", "size_bytes", "created_at"]
        read_only_fields = ["id", "content_type", "width", "height", "size_bytes", "created_at"]

    def get_image_url(self, photo: m.PlantPhoto) -> str:
        return f"{settings.PUBLIC_BASE_URL}/api/v1/garden/plants/{photo.plant_id}/photos/{photo.id}/image/"

    def validate_taken_on(self, value: date | None) -> date | None:
        return _past_date(value, self.context)


class PhotoUpdateSerializer(PhotoSerializer):
    """Caption and date only: a photo's pixels are replaced by uploading a new one."""

    class Meta(PhotoSerializer.Meta):
        fields = [name for name in PhotoSerializer.Meta.fields if name != "image"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.pop("image", None)
        return fields


def _past_date(value: date | None, context: dict[str, Any]) -> date | None:
    # One day of slack: the member's "today" may already be tomorrow somewhere.
    if value is not None and (value > member_today(context) + timedelta(days=1) or value < EARLIEST_DATE):
        raise serializers.ValidationError("The date must be between 1900-01-01 and today.")
    return value


# --- Plants ------------------------------------------------------------------------------------------


class PlantPhotoSummarySerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = m.PlantPhoto
        fields = ["id", "image_url", "caption", "width", "height"]

    def get_image_url(self, photo: m.PlantPhoto) -> str:
        return f"{settings.PUBLIC_BASE_URL}/api/v1/garden/plants/{photo.plant_id}/photos/{photo.id}/image/"


class PlantSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A plant of the member's garden. Unknown or read-only keys are refused; text is stored plain."""

    nickname = PlainTextField(max_length=m.NICKNAME_MAX)
    location = PlainTextField(max_length=m.LOCATION_MAX, required=False, allow_blank=True, help_text="Where it stands, e.g. living-room window.")
    notes = PlainTextField(max_length=m.NOTES_MAX, multiline=True, required=False, allow_blank=True)
    species_id = serializers.PrimaryKeyRelatedField(
        source="species", queryset=PlantSpecies.objects.all(), allow_null=True, required=False, help_text="A species of the catalogue."
    )
    species_name = serializers.CharField(
        write_only=True, required=False, max_length=200, help_text="Instead of species_id: the catalogue's scientific name or a synonym (any case)."
    )
    create_care_tasks = serializers.BooleanField(
        write_only=True, required=False, default=True, help_text="On creation with a species: schedule care tasks from its care guide."
    )
    species = SpeciesSummarySerializer(read_only=True, allow_null=True)
    photos = PlantPhotoSummarySerializer(many=True, read_only=True)
    warnings = serializers.SerializerMethodField(help_text="Household safety warnings (toxic species, pets or children in the profile).")

    class Meta:
        model = m.GardenPlant
        fields = [
            "id", "nickname", "species_id", "species_name", "species", "identification_request_id", "location", "acquired_on",
            "notes", "photos", "warnings", "create_care_tasks", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    @extend_schema_field(WarningSerializer(many=True))
    def get_warnings(self, plant: m.GardenPlant) -> list[dict[str, str]]:
        profile = self.context["profile"]
        return household_warnings(plant.species, has_pets=profile.has_pets, has_children=profile.has_children)

    def validate_acquired_on(self, value: date | None) -> date | None:
        return _past_date(value, self.context)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name = attrs.pop("species_name", None)
        if name is not None:
            if "species" in attrs:
                raise serializers.ValidationError({"species_name": ["Send species_id or species_name, not both."]})
            attrs["species"] = self._species_by_name(name)
        if self.instance is not None and "create_care_tasks" in self.initial_data:
            raise serializers.ValidationError({"create_care_tasks": ["Only used when a plant is added."]})
        return attrs

    def _species_by_name(self, name: str) -> PlantSpecies:
        name = " ".join(name.split())
        species = PlantSpecies.objects.filter(Q(scientific_name__iexact=name) | Q(synonyms__name__iexact=name)).distinct().first()
        if species is None:
            raise serializers.ValidationError({"species_name": ["No species with this name in the catalogue."]})
        return species


# --- Profile -----------------------------------------------------------------------------------------


class ProfileSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """The member's household, time zone, hemisphere, reminder preferences and calendar feed."""

    ical_url = serializers.SerializerMethodField()
    webcal_url = serializers.SerializerMethodField()

    class Meta:
        model = m.MemberProfile
        fields = [
            "has_pets", "has_children", "timezone", "hemisphere", "reminders_enabled", "reminder_hour", "ical_url", "webcal_url",
            "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"reminder_hour": {"min_value": 0, "max_value": 23}}

    @extend_schema_field(serializers.URLField(allow_null=True))  # null while the feed is turned off
    def get_ical_url(self, profile: m.MemberProfile) -> str | None:
        return feed_urls(profile.ical_token)["ical_url"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_webcal_url(self, profile: m.MemberProfile) -> str | None:
        return feed_urls(profile.ical_token)["webcal_url"]

    def validate_timezone(self, value: str) -> str:
        if value not in timezone_names():
            raise serializers.ValidationError("Not an IANA time zone name (e.g. Europe/Paris).")
        return value


class CalendarFeedSerializer(serializers.Serializer):
    ical_url = serializers.URLField(read_only=True, allow_null=True)
    webcal_url = serializers.CharField(read_only=True, allow_null=True)


# --- Care tasks and events ---------------------------------------------------------------------------


class PlantRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.GardenPlant
        fields = ["id", "nickname"]


class OwnPlantField(serializers.PrimaryKeyRelatedField):
    """A plant of the requesting member; any other id reads as unknown (no hint that it exists)."""

    default_error_messages = {
        "does_not_exist": "No plant with this id in your garden.",
        "incorrect_type": "Expected a plant id (UUID).",
    }

    def get_queryset(self) -> Any:
        return m.GardenPlant.objects.filter(owner_sub=self.context["owner_sub"])

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("incorrect_type")
        try:
            uuid.UUID(data)
        except ValueError:
            self.fail("incorrect_type")
        return super().to_internal_value(data)


class TaskSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    """A recurring care task: exactly one of `interval_days` (counted from when it was last done)
    and `rrule` (counted on the calendar)."""

    plant_id = OwnPlantField(source="plant")
    plant = PlantRefSerializer(read_only=True)
    title = PlainTextField(max_length=m.TASK_TITLE_MAX, required=False, allow_blank=True)
    notes = PlainTextField(max_length=m.TASK_NOTES_MAX, multiline=True, required=False, allow_blank=True)
    rrule = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="Calendar rule (RRULE subset: FREQ, INTERVAL, BYMONTH, BYMONTHDAY, BYDAY), e.g. FREQ=WEEKLY;INTERVAL=2;BYMONTH=4,5,6,7,8,9.",
    )
    next_due = serializers.DateField(required=False, help_text="The next day it falls due; on creation it defaults to today.")

    class Meta:
        model = m.CareTask
        fields = [
            "id", "plant_id", "plant", "kind", "title", "interval_days", "dormant_interval_days", "rrule", "next_due", "active",
            "origin", "notes", "scheduled_until", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "origin", "scheduled_until", "created_at", "updated_at"]
        extra_kwargs = {
            "interval_days": {"min_value": 1, "max_value": 730, "help_text": "Every N days, counted from when it was last done."},
            "dormant_interval_days": {"min_value": 1, "max_value": 730, "help_text": "Every-N-days tasks: the interval in the dormant months."},
        }

    def validate_next_due(self, value: date) -> date:
        today = member_today(self.context)
        if value < today - timedelta(days=1) or value > today + timedelta(days=3 * 366):
            raise serializers.ValidationError("The next due date must be between today and three years from now.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: m.CareTask | None = self.instance
        if instance is not None and "plant" in attrs and attrs["plant"].pk != instance.plant_id:
            raise serializers.ValidationError({"plant_id": ["A task cannot move to another plant; create a new one."]})

        def current(name: str, default: Any) -> Any:
            return attrs[name] if name in attrs else (getattr(instance, name) if instance is not None else default)

        interval, rule = current("interval_days", None), current("rrule", "")
        # Switching kinds of recurrence: the field not sent is cleared.
        if "rrule" in attrs and attrs["rrule"] and "interval_days" not in attrs:
            interval = None
        if "interval_days" in attrs and attrs["interval_days"] and "rrule" not in attrs:
            rule = ""
        if bool(interval) == bool(rule):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of interval_days and rrule."]})
        dormant = current("dormant_interval_days", None) if interval else None
        if rule:
            start = attrs.get("next_due") or (instance.anchor_on if instance is not None else member_today(self.context))
            try:
                rule = normalise_rule(rule, starting=start)
            except RecurrenceError as exc:
                raise serializers.ValidationError({"rrule": [str(exc)]}) from None
        if "dormant_interval_days" in attrs and attrs["dormant_interval_days"] and not interval:
            raise serializers.ValidationError({"dormant_interval_days": ["Only for tasks with interval_days."]})
        attrs.update(interval_days=interval, rrule=rule, dormant_interval_days=dormant)
        return attrs


class EventSerializer(serializers.ModelSerializer):
    """One day on which a care task falls due, and what became of it."""

    task_id = serializers.UUIDField(read_only=True)
    plant = serializers.SerializerMethodField()
    kind = serializers.CharField(source="task.kind", read_only=True)
    title = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = m.CareEvent
        fields = ["id", "task_id", "plant", "kind", "title", "due_on", "status", "done_at", "overdue"]
        read_only_fields = fields

    @extend_schema_field(PlantRefSerializer)
    def get_plant(self, event: m.CareEvent) -> dict[str, Any]:
        return {"id": str(event.task.plant_id), "nickname": event.task.plant.nickname}

    @extend_schema_field(OpenApiTypes.STR)
    def get_title(self, event: m.CareEvent) -> str:
        return str(event.task)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_overdue(self, event: m.CareEvent) -> bool:
        return event.status == m.CareEvent.Status.PENDING and event.due_on < member_today(self.context)


class EventRangeSerializer(serializers.Serializer):
    """Query parameters of the events listing."""

    start = serializers.DateField(required=False, help_text="First day (default: today in the member's time zone).")
    end = serializers.DateField(required=False, help_text="Last day, at most 366 days after `start` (default: 30 days after it).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start") or member_today(self.context)
        end = attrs.get("end") or start + timedelta(days=30)
        if end < start:
            raise serializers.ValidationError({"end": ["`end` must not be before `start`."]})
        if (end - start).days > 366:
            raise serializers.ValidationError({"end": ["A range covers at most 366 days."]})
        return {"start": start, "end": end}


class TodaySerializer(serializers.Serializer):
    date = serializers.DateField()
    timezone = serializers.CharField()
    due = EventSerializer(many=True)
    overdue = EventSerializer(many=True)
    overdue_count = serializers.IntegerField()
