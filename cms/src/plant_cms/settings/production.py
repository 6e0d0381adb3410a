"""Production: refuses to start with DEBUG on or a development/placeholder secret; HTTPS behind the edge.

Deferred on purpose to the edge, which terminates TLS (`check --deploy` warns about both): the
HTTP-to-HTTPS redirect (`CMS_SECURE_SSL_REDIRECT=true` makes Django do it too) and HSTS
(`CMS_SECURE_HSTS_SECONDS=<seconds>` makes Django send it).
"""

from django.core.exceptions import ImproperlyConfigured
from plant_shared.settings import InsecureSettingsError, refuse_insecure_production

from plant_cms.settings.base import *  # noqa: F403
from plant_cms.settings.base import DATABASES, SECRET_KEY, STORAGES
from plant_cms.settings import env

DEBUG = env.flag("DEBUG", False)

try:
    refuse_insecure_production(
        environment="production",
        debug=DEBUG,
        secrets={"secret_key": SECRET_KEY, "database_password": DATABASES["default"]["PASSWORD"] or None},
        env_prefix="CMS_",
    )
except InsecureSettingsError as exc:
    hint = " (the database password is the one inside CMS_DATABASE_URL)" if "DATABASE_PASSWORD" in str(exc) else ""
    raise InsecureSettingsError(f"{exc}{hint}") from None

ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("CMS_ALLOWED_HOSTS is not set: export CMS_ALLOWED_HOSTS=cms.example.org,localhost")

# TLS ends at the edge, which says so in X-Forwarded-Proto; only trust it behind that proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", False)
# If Django redirects: probes and Prometheus call the process directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

# Hashed names let the edge cache static files for ever; compression spares it the work.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
