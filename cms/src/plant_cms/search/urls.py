"""`/api/v1/search/` (mounted by plant_cms.urls)."""

from django.urls import path

from plant_cms.search.views import SearchView

app_name = "search"

urlpatterns = [path("", SearchView.as_view(), name="search")]
