"""Settings every environment shares. Everything deployment-specific comes from `CMS_*` variables;
there is no default secret here (dev, test and production each decide what they accept)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from plant_shared.errortracking import init_error_tracking, release_of
from plant_shared.logging import configure_logging

from plant_cms.settings import env

PROJECT_DIR = Path(__file__).resolve().parent.parent  # src/plant_cms
BASE_DIR = PROJECT_DIR.parent.parent  # cms/

SECRET_KEY = env.required("SECRET_KEY", "$(python -c 'import secrets; print(secrets.token_urlsafe(50))')")
DEBUG = env.flag("DEBUG", False)
ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", [])

# The one origin clients use (the edge); admin links, API URLs and CSRF origins derive from it.
PUBLIC_BASE_URL = env.text("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]

# --- Applications -------------------------------------------------------------------------------

INSTALLED_APPS = [
    "plant_cms.core",
    "plant_cms.species",
    "plant_cms.blog",
    "plant_cms.search",
    "plant_cms.garden",
    "plant_cms.accounts",
    "wagtail.contrib.redirects",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "wagtail.api.v2",
    "wagtail.embeds",  # the blog body's embed block
    "modelcluster",
    "taggit",
    "django_filters",  # the Wagtail admin's listing filters
    "rest_framework",
    "drf_spectacular",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # pg_trgm indexes and lookups (species names)
]

MIDDLEWARE = [
    # First, so that its process_view labels the route before anything can short-circuit.
    "plant_cms.core.middleware.RouteTemplateMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "plant_cms.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# A project-owned user model from the first migration: swapping it later is a rewrite.
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "wagtailadmin_login"
# Editors sign in with their platform account: the auth service checks the password, the CMS keeps
# none (plant_cms.accounts). No ModelBackend: a local password could never be used anyway.
AUTHENTICATION_BACKENDS = ["plant_cms.accounts.backends.PlatformAccountBackend"]
AUTH_SERVICE_URL = env.text("AUTH_SERVICE_URL", "http://127.0.0.1:8101").rstrip("/")
AUTH_SERVICE_TIMEOUT = 5.0  # seconds, per call to the auth service during an editor's sign-in
# "Remember me" sessions of the admin last a working day, then the platform is asked again.
SESSION_COOKIE_AGE = env.integer("EDITOR_SESSION_SECONDS", 8 * 3600)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Data stores --------------------------------------------------------------------------------

DATABASES = {"default": env.database_from_url(env.required("DATABASE_URL", "postgresql://cms:<password>@127.0.0.1:5432/cms"))}
# Fail fast when PostgreSQL is unreachable, so /readyz answers 503 instead of hanging.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
if env.flag("DATABASE_POOL", True):
    # Under ASGI every request runs its sync code in a fresh thread, so Django's per-thread persistent
    # connections would never be reused: a process-wide psycopg pool is (CONN_MAX_AGE stays 0).
    DATABASES["default"]["OPTIONS"].setdefault("pool", {"min_size": 1, "max_size": 10, "timeout": 5})

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env.redis_url("REDIS_URL"),
        "KEY_PREFIX": "cms",
        # Seconds; a dead Redis must fail a request quickly, not stall it. Then every cache read is a
        # miss and every write a no-op (logged): pages are served from PostgreSQL instead of a 500
        # from Wagtail's own cache reads (site root paths). See docs/operations.md, "Failure modes".
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Internationalisation -----------------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and uploads -------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", BASE_DIR / "staticfiles")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Security shared by every environment -------------------------------------------------------

# Wagtail's live preview renders the page in an iframe of the admin itself.
X_FRAME_OPTIONS = "SAMEORIGIN"
SILENCED_SYSTEM_CHECKS = ["security.W019"]  # "X_FRAME_OPTIONS is not DENY": see the line above
# Complex page models exceed Django's default of 1,000 fields per editor form.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Wagtail ------------------------------------------------------------------------------------

WAGTAIL_SITE_NAME = "Plant Community"
WAGTAILADMIN_BASE_URL = PUBLIC_BASE_URL
# Absolute URLs in API responses (detail_url, download_url) point at the edge, not this process.
WAGTAILAPI_BASE_URL = PUBLIC_BASE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Rich text in the API (fields and StreamField blocks) as ready-to-render HTML, links resolved.
WAGTAILAPI_RICH_TEXT_FORMAT = "html"
# Editors preview drafts in the external frontend, which exchanges the token at /api/v2/preview/.
PREVIEW_FRONTEND_URL = env.text("PREVIEW_FRONTEND_URL", "")
PREVIEW_TOKEN_MAX_AGE = env.integer("PREVIEW_TOKEN_MAX_AGE", 600)  # seconds
# Anonymous /api/v2/ GETs are cached in Redis this long; publish/unpublish/move purge them at once.
API_CACHE_SECONDS = env.integer("API_CACHE_SECONDS", 300)
# Only document types editors need; anything else could be served back as active content.
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "rtf", "txt", "xlsx"]
# Editors' passwords live in the auth service only: no password forms, resets or fields here.
WAGTAILADMIN_USER_LOGIN_FORM = "plant_cms.accounts.forms.PlatformLoginForm"
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAILUSERS_PASSWORD_ENABLED = False

# --- Platform access tokens (docs/architecture.md, "Tokens") ------------------------------------

# Read by plant_shared.django_auth: the shared verifier, audience "cms". The deny-list (Redis db 4,
# the auth service's) is required: without it a revoked token would pass until it expires.
DENYLIST_REDIS_URL = env.redis_url("DENYLIST_REDIS_URL", example="redis://127.0.0.1:6379/4")
PLATFORM_TOKEN_VERIFIER = {
    "jwks_url": env.text("JWKS_URL", "http://127.0.0.1:8101/.well-known/jwks.json"),
    "issuer": env.text("TOKEN_ISSUER", "plant-community-auth"),
    "audience": "cms",
    "denylist_redis_url": DENYLIST_REDIS_URL,
}
# The auth service's account events (user.deleted) on the same Redis, read by the consumer group.
ACCOUNT_EVENTS_REDIS_URL = DENYLIST_REDIS_URL
ACCOUNT_EVENTS_STREAM = env.text("ACCOUNT_EVENTS_STREAM", "events:accounts")
ACCOUNT_EVENTS_GROUP = env.text("ACCOUNT_EVENTS_GROUP", "cms")

# --- The members' garden ------------------------------------------------------------------------

# Members' plant photos: private, outside MEDIA_ROOT (which is served to anyone), read through the API.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", MEDIA_ROOT.parent / "private-media")
STORAGES["garden_photos"] = {
    "BACKEND": "plant_cms.garden.storage.PrivateFileSystemStorage",
    "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
}
# Care reminders: "console" (standard output) or "file" (JSON lines at NOTIFICATION_FILE_PATH).
NOTIFICATION_BACKEND = env.text("NOTIFICATION_BACKEND", "console")
NOTIFICATION_FILE_PATH = env.text("NOTIFICATION_FILE_PATH", "")

# --- Django REST framework ----------------------------------------------------------------------

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "plant_cms.core.errors.envelope_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Platform access tokens first: an anonymous request then gets 401 with `WWW-Authenticate: Bearer`
    # (DRF takes the header from the first class). Editors signed in to the admin keep their session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "plant_shared.django_auth.PlatformTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Plant Community CMS API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Wagtail's /api/v2/ endpoints are not described by serializers; document our own DRF endpoints.
    "PREPROCESSING_HOOKS": ["plant_cms.core.openapi.only_platform_endpoints"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "plant_cms.core.openapi.document_error_responses"],
}

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = env.text("LOG_LEVEL", "INFO")
# Django must not install its own handlers: one JSON handler on stdout, with service and request id.
LOGGING_CONFIG = None
configure_logging(service="cms", level=LOG_LEVEL)
logging.captureWarnings(True)  # Python warnings become JSON log lines too
# WhiteNoise and Wagtail's document view stream files with sync iterators; under ASGI Django copies
# them in a thread, which is correct, only slower (production serves files from nginx).
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

# --- Error tracking -----------------------------------------------------------------------------

# Sentry when a DSN is set (off otherwise), with no personal data (plant_shared.errortracking).
# Here rather than in the ASGI module, so the management commands (account events, reminders) report too.
SENTRY_DSN = env.text("SENTRY_DSN", "")
_SETTINGS_MODULE = os.environ.get("DJANGO_SETTINGS_MODULE", "plant_cms.settings.production").rsplit(".", 1)[-1]
init_error_tracking(
    service="cms",
    dsn=SENTRY_DSN,
    environment={"dev": "development"}.get(_SETTINGS_MODULE, _SETTINGS_MODULE),
    release=release_of("cms"),
    sample_rate=float(env.text("SENTRY_SAMPLE_RATE", "1.0")),
    traces_sample_rate=float(env.text("SENTRY_TRACES_SAMPLE_RATE", "0.0")),
)
