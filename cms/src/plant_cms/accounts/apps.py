from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Editors' sign-in with their platform account, and the platform's account events."""

    name = "plant_cms.accounts"
    label = "accounts"
    verbose_name = "Platform accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from plant_cms.accounts import openapi  # noqa: F401 - registers the bearer scheme
        from plant_cms.accounts.groups import grant_editorial_permissions

        # After every app's permissions exist (they are created in post_migrate too).
        post_migrate.connect(grant_editorial_permissions, dispatch_uid="plant_cms.accounts.editorial_permissions")
