from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "plant_cms.blog"
    label = "blog"
    verbose_name = "Blog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The content apps own the /api/v2/ response cache; connect its purge once, in every
        # process (web, workers, management commands such as publish_scheduled).
        from plant_cms import api_cache

        api_cache.connect_signals()
