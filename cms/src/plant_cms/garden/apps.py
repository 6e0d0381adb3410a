from django.apps import AppConfig


class GardenConfig(AppConfig):
    name = "plant_cms.garden"
    label = "garden"
    verbose_name = "Members' garden"
    default_auto_field = "django.db.models.BigAutoField"
