"""`/api/v1/internal/species/` (mounted by plant_cms.urls; not routed by the edge)."""

from django.urls import path

from plant_cms.species.internal import SpeciesLookupView

app_name = "species_internal"

urlpatterns = [path("lookup/", SpeciesLookupView.as_view(), name="lookup")]
