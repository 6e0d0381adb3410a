"""The test suite: production-like (debug off), against the real PostgreSQL and Redis.

pytest-django creates `test_<name>` from `CMS_DATABASE_URL`'s database.
"""

from plant_cms.settings.base import *  # noqa: F403
from plant_cms.settings.base import CACHES

DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

# Keep test keys apart from a developer's cache in the same Redis database.
CACHES["default"]["KEY_PREFIX"] = "cms-test"

# Hashing is deliberately slow; tests create users, not attacks.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Serve the apps' static files straight from their packages: tests need no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
