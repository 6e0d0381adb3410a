"""The members' garden and care calendar API (`/api/v1/garden/…`, `/api/v1/calendar/…`).

Every view needs a member's access token, except the calendar feed, whose secret URL is the
credential. Every query is filtered by the token's `sub`: another member's id answers 404, exactly
like an id that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from plant_shared.errors import error_body
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plant_cms.garden import ical, schedule
from plant_cms.garden.care_guide import published_care_summary, tasks_for
from plant_cms.garden.models import CareEvent, CareTask, GardenPlant, MemberProfile, PlantPhoto, new_ical_token
from plant_cms.garden.permissions import IsMember
from plant_cms.garden.photos import MAX_PHOTOS_PER_PLANT, PhotoRejected, clean_photo
from plant_cms.garden.serializers import (
    CalendarFeedSerializer,
    EventRangeSerializer,
    EventSerializer,
    PhotoSerializer,
    PhotoUpdateSerializer,
    PlantSerializer,
    ProfileSerializer,
    TaskSerializer,
    TodaySerializer,
    feed_urls,
)
from plant_cms.garden.storage import garden_photo_storage

log = logging.getLogger("plant_cms.garden")

MAX_PLANTS_PER_MEMBER = 1_000
MAX_TASKS_PER_PLANT = 30
MAX_OVERDUE_LISTED = 100


class GardenPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class MemberMixin:
    """The requesting member (`owner_sub`), their profile and their local "today", once per request."""

    permission_classes = [IsMember]
    request: Request

    @property
    def owner_sub(self) -> uuid.UUID:
        return self.request.user.id  # type: ignore[return-value]

    def get_profile(self) -> MemberProfile:
        if not hasattr(self, "_profile"):
            self._profile = schedule.profile_for(self.owner_sub)
        return self._profile

    def member_context(self) -> dict[str, Any]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no member
            return {}
        profile = self.get_profile()
        return {"owner_sub": self.owner_sub, "profile": profile, "today": schedule.local_today(profile)}

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **self.member_context()}  # type: ignore[misc]


def reject_body(request: Request) -> None:
    """Actions that take no body refuse one, rather than ignore it."""
    if request.data:
        keys = list(request.data.keys())[:20] if hasattr(request.data, "keys") else []
        raise ValidationError({key: ["Unknown field."] for key in keys} or {"non_field_errors": ["This action takes no body."]})


# --- Plants --------------------------------------------------------------------------------------------


class PlantFilter(filters.FilterSet):
    species = filters.NumberFilter(field_name="species_id", help_text="Plants of this species id.")
    has_species = filters.BooleanFilter(field_name="species", lookup_expr="isnull", exclude=True, help_text="Only plants with (true) or without (false) a species.")
    location = filters.CharFilter(lookup_expr="iexact")
    q = filters.CharFilter(method="search", max_length=100, help_text="Words in the nickname, location or notes.")
    acquired_after = filters.DateFilter(field_name="acquired_on", lookup_expr="gte")
    acquired_before = filters.DateFilter(field_name="acquired_on", lookup_expr="lte")

    class Meta:
        model = GardenPlant
        fields = ["species", "has_species", "location", "q", "acquired_after", "acquired_before"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split()[:5]:
            queryset = queryset.filter(Q(nickname__icontains=word) | Q(location__icontains=word) | Q(notes__icontains=word))
        return queryset


@extend_schema_view(
    list=extend_schema(summary="List my plants"),
    create=extend_schema(summary="Add a plant (care tasks from its species' care guide; household warnings)"),
    retrieve=extend_schema(summary="One of my plants"),
    update=extend_schema(summary="Replace a plant's details"),
    partial_update=extend_schema(summary="Change a plant's details"),
    destroy=extend_schema(summary="Remove a plant with its photos, tasks and events"),
)
class PlantViewSet(MemberMixin, viewsets.ModelViewSet):
    """The member's plant collection."""

    serializer_class = PlantSerializer
    pagination_class = GardenPagination
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = PlantFilter
    ordering_fields = ["nickname", "created_at", "acquired_on"]
    ordering = ["-created_at"]
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[GardenPlant]:
        if getattr(self, "swagger_fake_view", False):
            return GardenPlant.objects.none()
        return (
            GardenPlant.objects.filter(owner_sub=self.owner_sub)
            .select_related("species", "species__page")
            .prefetch_related("photos", "species__common_names")
        )

    def perform_create(self, serializer: PlantSerializer) -> None:
        create_tasks = serializer.validated_data.pop("create_care_tasks", True)
        with transaction.atomic():
            if GardenPlant.objects.filter(owner_sub=self.owner_sub).count() >= MAX_PLANTS_PER_MEMBER:
                raise ValidationError({"non_field_errors": [f"A garden holds at most {MAX_PLANTS_PER_MEMBER} plants."]})
            plant = serializer.save(owner_sub=self.owner_sub)
            if create_tasks and plant.species is not None:
                self._tasks_from_guide(plant)

    def perform_update(self, serializer: PlantSerializer) -> None:
        before = serializer.instance.species_id
        serializer.validated_data.pop("create_care_tasks", None)
        with transaction.atomic():
            plant = serializer.save()
            # Identified later: the first species brings its care plan, unless one is there already.
            if plant.species_id is not None and plant.species_id != before and not plant.tasks.filter(origin=CareTask.Origin.CARE_GUIDE).exists():
                self._tasks_from_guide(plant)

    def _tasks_from_guide(self, plant: GardenPlant) -> None:
        profile = self.get_profile()
        specs = tasks_for(published_care_summary(plant.species), hemisphere=profile.hemisphere)
        schedule.create_tasks_from_guide(plant, specs, profile=profile)

    def perform_destroy(self, instance: GardenPlant) -> None:
        names = [photo.image.name for photo in instance.photos.all()]
        with transaction.atomic():
            instance.delete()
            transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    storage = garden_photo_storage()
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            log.warning("garden photo file not deleted", extra={"file": name})


# --- Photos --------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Photos of one of my plants"),
    create=extend_schema(summary="Upload a photo (multipart: image, caption, taken_on)", request={"multipart/form-data": PhotoSerializer}),
    retrieve=extend_schema(summary="A photo's details"),
    partial_update=extend_schema(summary="Change a photo's caption or date", request=PhotoUpdateSerializer, responses=PhotoSerializer),
    destroy=extend_schema(summary="Delete a photo"),
)
class PlantPhotoViewSet(MemberMixin, viewsets.ModelViewSet):
    """Photos of a plant (re-encoded, metadata stripped, private)."""

    serializer_class = PhotoSerializer
    parser_classes = [MultiPartParser, JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_plant(self) -> GardenPlant:
        if not hasattr(self, "_plant"):
            try:
                self._plant = GardenPlant.objects.get(pk=self.kwargs["plant_pk"], owner_sub=self.owner_sub)
            except GardenPlant.DoesNotExist:
                raise Http404("No plant with this id in your garden.") from None
        return self._plant

    def get_queryset(self) -> QuerySet[PlantPhoto]:
        if getattr(self, "swagger_fake_view", False):
            return PlantPhoto.objects.none()
        return PlantPhoto.objects.filter(plant=self.get_plant(), owner_sub=self.owner_sub)

    def get_serializer_class(self) -> type:
        return PhotoUpdateSerializer if self.action == "partial_update" else PhotoSerializer

    def perform_create(self, serializer: PhotoSerializer) -> None:
        plant = self.get_plant()
        upload = serializer.validated_data.pop("image")
        try:
            clean = clean_photo(upload, size=upload.size)
        except PhotoRejected as exc:
            raise ValidationError({"image": [str(exc)]}) from None
        with transaction.atomic():
            GardenPlant.objects.select_for_update().filter(pk=plant.pk).first()  # one upload at a time per plant
            if PlantPhoto.objects.filter(plant=plant).count() >= MAX_PHOTOS_PER_PLANT:
                raise ValidationError({"image": [f"A plant has at most {MAX_PHOTOS_PER_PLANT} photos; delete one first."]})
            photo = PlantPhoto(
                plant=plant,
                owner_sub=self.owner_sub,
                content_type=clean.content_type,
                width=clean.width,
                height=clean.height,
                size_bytes=len(clean.content),
                **serializer.validated_data,
            )
            photo.image.save(f"photo.{clean.extension}", ContentFile(clean.content), save=False)
            name = photo.image.name
            try:
                photo.save()
            except Exception:
                _delete_files([name])
                raise
        serializer.instance = photo

    def perform_destroy(self, instance: PlantPhoto) -> None:
        name = instance.image.name
        with transaction.atomic():
            instance.delete()
            transaction.on_commit(lambda: _delete_files([name]))


class RawResponseView(APIView):
    """A view answering non-JSON bodies: any `Accept` is fine (no 406); errors stay JSON envelopes."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class PhotoImageView(MemberMixin, RawResponseView):
    @extend_schema(
        summary="A photo's image file (owner only)",
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY, (200, "image/webp"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, plant_pk: uuid.UUID, pk: uuid.UUID) -> HttpResponse:
        """The stored (re-encoded) image; private to its owner."""
        photo = PlantPhoto.objects.filter(pk=pk, plant_id=plant_pk, owner_sub=self.owner_sub).first()
        if photo is None:
            raise Http404("No photo with this id in your garden.")
        try:
            handle = garden_photo_storage().open(photo.image.name, "rb")
        except FileNotFoundError:
            raise Http404("The photo's file is missing.") from None
        response = FileResponse(handle, content_type=photo.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="{photo.id}.{photo.image.name.rsplit(".", 1)[-1]}"'
        return response


# --- Profile -------------------------------------------------------------------------------------------


class ProfileView(MemberMixin, GenericAPIView):
    """The member's household and calendar preferences (created with defaults on first read)."""

    serializer_class = ProfileSerializer
    parser_classes = [JSONParser]

    def get_object(self) -> MemberProfile:
        profile, _ = MemberProfile.objects.get_or_create(owner_sub=self.owner_sub)
        self._profile = profile
        return profile

    @extend_schema(summary="My garden profile")
    def get(self, request: Request) -> Response:
        """Household (pets, children), time zone, hemisphere, reminders and the calendar feed URL."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Replace my garden profile")
    def put(self, request: Request) -> Response:
        """Set the profile; fields left out keep their values."""
        return self._update(request, partial=False)

    @extend_schema(summary="Change my garden profile")
    def patch(self, request: Request) -> Response:
        """Change some fields of the profile."""
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        profile = self.get_object()
        before = (profile.timezone, profile.hemisphere)
        serializer = self.get_serializer(profile, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            profile = serializer.save()
            if (profile.timezone, profile.hemisphere) != before:
                # Dormant months and "today" moved: the every-N-days chains are recomputed.
                today = schedule.local_today(profile)
                for task in CareTask.objects.filter(owner_sub=self.owner_sub, active=True):
                    schedule.reschedule(task, today=today, hemisphere=profile.hemisphere)
        return Response(self.get_serializer(profile).data)


# --- Care tasks ------------------------------------------------------------------------------------------


class TaskFilter(filters.FilterSet):
    plant = filters.UUIDFilter(field_name="plant_id")
    kind = filters.ChoiceFilter(choices=CareTask.Kind.choices)
    active = filters.BooleanFilter()

    class Meta:
        model = CareTask
        fields = ["plant", "kind", "active"]


_RESCHEDULING = ("interval_days", "dormant_interval_days", "rrule", "next_due", "active")


@extend_schema_view(
    list=extend_schema(summary="My care tasks"),
    create=extend_schema(summary="Add a recurring care task to one of my plants"),
    retrieve=extend_schema(summary="One care task"),
    update=extend_schema(summary="Replace a care task (its pending events are rescheduled)"),
    partial_update=extend_schema(summary="Change a care task (its pending events are rescheduled)"),
    destroy=extend_schema(summary="Delete a care task and its events"),
)
class CareTaskViewSet(MemberMixin, viewsets.ModelViewSet):
    """Recurring care tasks (every N days, or a calendar rule)."""

    serializer_class = TaskSerializer
    pagination_class = GardenPagination
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = TaskFilter
    ordering_fields = ["next_due", "created_at", "kind"]
    ordering = ["next_due", "created_at"]
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[CareTask]:
        if getattr(self, "swagger_fake_view", False):
            return CareTask.objects.none()
        return CareTask.objects.filter(owner_sub=self.owner_sub).select_related("plant")

    def perform_create(self, serializer: TaskSerializer) -> None:
        data = serializer.validated_data
        profile = self.get_profile()
        today = schedule.local_today(profile)
        plant = data["plant"]
        with transaction.atomic():
            GardenPlant.objects.select_for_update().filter(pk=plant.pk).first()
            if plant.tasks.count() >= MAX_TASKS_PER_PLANT:
                raise ValidationError({"plant_id": [f"A plant has at most {MAX_TASKS_PER_PLANT} care tasks."]})
            anchor = data.pop("next_due", None) or today
            task = serializer.save(owner_sub=self.owner_sub, anchor_on=anchor, origin=CareTask.Origin.MEMBER)
            schedule.extend(task, today + schedule.INITIAL_HORIZON, today=today, hemisphere=profile.hemisphere)
            task.refresh_from_db()
        serializer.instance = task

    def perform_update(self, serializer: TaskSerializer) -> None:
        data = serializer.validated_data
        task: CareTask = serializer.instance
        profile = self.get_profile()
        today = schedule.local_today(profile)
        changed = any(name in data and data[name] != getattr(task, name) for name in _RESCHEDULING)
        with transaction.atomic():
            next_due = data.pop("next_due", None)
            if next_due is not None:
                anchor = next_due
            elif not changed:
                anchor = task.anchor_on
            elif data.get("rrule", task.rrule):
                anchor = today  # a calendar rule counts from today
            else:
                anchor = max(task.next_due or today, today)
            task = serializer.save(anchor_on=anchor)
            if changed:
                schedule.reschedule(task, today=today, hemisphere=profile.hemisphere)
        serializer.instance = task


# --- Calendar events -----------------------------------------------------------------------------------


class EventFilter(filters.FilterSet):
    plant = filters.UUIDFilter(field_name="task__plant_id")
    task = filters.UUIDFilter(field_name="task_id")
    kind = filters.ChoiceFilter(field_name="task__kind", choices=CareTask.Kind.choices)
    status = filters.ChoiceFilter(choices=CareEvent.Status.choices)

    class Meta:
        model = CareEvent
        fields = ["plant", "task", "kind", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="My care calendar between two days",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: today in my time zone)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, at most 366 days after start (default: start + 30 days)."),
        ],
    ),
    retrieve=extend_schema(summary="One calendar event"),
)
class CareEventViewSet(MemberMixin, viewsets.ReadOnlyModelViewSet):
    """Occurrences of care tasks: list by date range, mark done or skip."""

    serializer_class = EventSerializer
    pagination_class = GardenPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = EventFilter
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"

    def get_queryset(self) -> QuerySet[CareEvent]:
        if getattr(self, "swagger_fake_view", False):
            return CareEvent.objects.none()
        return CareEvent.objects.filter(owner_sub=self.owner_sub).select_related("task__plant").order_by("due_on", "task__plant__nickname", "task_id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Events from `start` to `end` (created ahead as far as `end` reaches)."""
        query = EventRangeSerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        schedule.extend_all(self.owner_sub, end, profile=self.get_profile())
        queryset = self.filter_queryset(self.get_queryset().filter(due_on__gte=start, due_on__lte=end))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(summary="Mark an event done", request=None, responses=EventSerializer)
    @action(detail=True, methods=["post"])
    def done(self, request: Request, pk: str | None = None) -> Response:
        """Done (today): every-N-days tasks count their next occurrence from today."""
        return self._close(request, CareEvent.Status.DONE)

    @extend_schema(summary="Skip an event", request=None, responses=EventSerializer)
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str | None = None) -> Response:
        """Skipped: the task's schedule stays as it was."""
        return self._close(request, CareEvent.Status.SKIPPED)

    def _close(self, request: Request, status_: str) -> Response:
        reject_body(request)
        event = self.get_object()
        if event.status != CareEvent.Status.PENDING and event.status != status_:
            raise ValidationError({"status": [f"This event is already {event.status}."]})
        event = schedule.close_event(event, status_, profile=self.get_profile())
        event = self.get_queryset().get(pk=event.pk)
        return Response(self.get_serializer(event).data)


class TodayView(MemberMixin, GenericAPIView):
    serializer_class = TodaySerializer

    @extend_schema(summary="What is due today, and what is overdue")
    def get(self, request: Request) -> Response:
        """Reminders for today in the member's time zone (overdue ones listed apart, at most 100)."""
        profile = self.get_profile()
        today = schedule.local_today(profile)
        schedule.extend_all(self.owner_sub, today, profile=profile)
        pending = (
            CareEvent.objects.filter(owner_sub=self.owner_sub, status=CareEvent.Status.PENDING, due_on__lte=today, task__active=True)
            .select_related("task__plant")
            .order_by("due_on", "task__plant__nickname")
        )
        due = [e for e in pending.filter(due_on=today)]
        overdue_qs = pending.filter(due_on__lt=today)
        context = self.get_serializer_context()
        return Response({
            "date": today.isoformat(),
            "timezone": profile.timezone,
            "due": EventSerializer(due, many=True, context=context).data,
            "overdue": EventSerializer(list(overdue_qs[:MAX_OVERDUE_LISTED]), many=True, context=context).data,
            "overdue_count": overdue_qs.count(),
        })


# --- The calendar feed ---------------------------------------------------------------------------------


class CalendarFeedSettingsView(MemberMixin, GenericAPIView):
    """The secret URL of the member's iCalendar feed: read, rotate, turn off."""

    serializer_class = CalendarFeedSerializer

    def _feed_profile(self) -> MemberProfile:
        # Not `_profile`: MemberMixin caches the profile under that attribute name.
        profile, _ = MemberProfile.objects.get_or_create(owner_sub=self.owner_sub)
        return profile

    @extend_schema(summary="My calendar feed URL")
    def get(self, request: Request) -> Response:
        """The feed's URLs (null when turned off)."""
        return Response(feed_urls(self._feed_profile().ical_token))

    @extend_schema(summary="Rotate my calendar feed URL", request=None)
    def post(self, request: Request) -> Response:
        """A new secret URL (turning the feed on); the old URL stops working at once."""
        reject_body(request)
        profile = self._feed_profile()
        profile.ical_token = new_ical_token()
        profile.save(update_fields=["ical_token", "updated_at"])
        return Response(feed_urls(profile.ical_token))

    @extend_schema(summary="Turn my calendar feed off", request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        """The feed URL stops working; POST makes a new one."""
        MemberProfile.objects.filter(owner_sub=self.owner_sub).update(ical_token=None)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarFeedView(RawResponseView):
    """The member's care calendar for phone calendars. No sign-in: the secret URL is the key."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="iCalendar feed (secret URL, no token)",
        auth=[],
        responses={(200, "text/calendar"): OpenApiTypes.STR, 404: OpenApiResponse(description="Unknown or rotated feed URL.")},
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        """RFC 5545: the last 30 and next 90 days of care events, all-day, with a reminder alarm."""
        profile = MemberProfile.objects.filter(ical_token=token).first() if token else None
        if profile is None:
            return JsonResponse(error_body("No calendar at this address; it may have been rotated.", "not_found"), status=404)
        today = schedule.local_today(profile)
        first, last = ical.window(today)
        schedule.extend_all(profile.owner_sub, last, profile=profile)
        events = (
            CareEvent.objects.filter(owner_sub=profile.owner_sub, due_on__gte=first, due_on__lte=last)
            .select_related("task__plant")
            .order_by("due_on")
        )
        response = HttpResponse(ical.build_feed(profile, events), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="plant-care.ics"'
        response["Cache-Control"] = "private, max-age=900"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex"
        return response

