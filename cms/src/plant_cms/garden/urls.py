"""Routes of the members' garden and care calendar, mounted at /api/v1/."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from plant_cms.garden import views

router = SimpleRouter()
router.register("garden/plants", views.PlantViewSet, basename="garden-plant")
router.register("calendar/tasks", views.CareTaskViewSet, basename="calendar-task")
router.register("calendar/events", views.CareEventViewSet, basename="calendar-event")

photos = views.PlantPhotoViewSet

urlpatterns = [
    path("garden/profile/", views.ProfileView.as_view(), name="garden-profile"),
    path("garden/plants/<uuid:plant_pk>/photos/", photos.as_view({"get": "list", "post": "create"}), name="garden-photo-list"),
    path(
        "garden/plants/<uuid:plant_pk>/photos/<uuid:pk>/",
        photos.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="garden-photo-detail",
    ),
    path("garden/plants/<uuid:plant_pk>/photos/<uuid:pk>/image/", views.PhotoImageView.as_view(), name="garden-photo-image"),
    path("calendar/today/", views.TodayView.as_view(), name="calendar-today"),
    path("calendar/ical/", views.CalendarFeedSettingsView.as_view(), name="calendar-ical-settings"),
    # The secret is the whole credential: 43 URL-safe characters from `new_ical_token`.
    re_path(r"^calendar/ical/(?P<token>[A-Za-z0-9_-]{20,64})\.ics$", views.CalendarFeedView.as_view(), name="calendar-ical-feed"),
    *router.urls,
]
