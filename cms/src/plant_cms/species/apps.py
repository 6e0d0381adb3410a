from django.apps import AppConfig


class SpeciesConfig(AppConfig):
    name = "plant_cms.species"
    label = "species"
    verbose_name = "Plant catalogue"
    default_auto_field = "django.db.models.BigAutoField"
