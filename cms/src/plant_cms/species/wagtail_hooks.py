"""The species records in the admin: a snippet listing searchable by name, filterable by family."""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from plant_cms.species.models import PlantSpecies


class PlantSpeciesViewSet(SnippetViewSet):
    model = PlantSpecies
    icon = "folder-open-inverse"
    menu_label = "Plant species"
    list_display = ["scientific_name", "family", "toxicity_pets", "gbif_key"]
    list_filter = ["family", "toxicity_pets", "toxicity_people"]
    search_fields = ["scientific_name", "family", "genus"]
    ordering = ["scientific_name"]


register_snippet(PlantSpeciesViewSet)
