from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "plant_cms.core"
    label = "core"
    verbose_name = "Plant Community core"
    default_auto_field = "django.db.models.BigAutoField"
