from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Site search over species and blog posts (no models of its own)."""

    name = "plant_cms.search"
    label = "plant_search"  # "search" would read like Wagtail's own search app
    verbose_name = "Site search"
