"""Local development (the devstack): debug on, local hosts, mail to the console.

The devstack always passes `CMS_SECRET_KEY` (a generated `dev-insecure-…` key), so nothing here
invents one.
"""

from plant_cms.settings.base import *  # noqa: F403
from plant_cms.settings import env

DEBUG = env.flag("DEBUG", True)
ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
