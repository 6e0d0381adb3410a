"""The gateway's settings: one class, read from `GATEWAY_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from plant_shared.settings import Environment, refuse_insecure_production, require_database_url, require_redis_url, url_secrets

ENV_PREFIX = "GATEWAY_"
DRIVER = "postgresql+psycopg"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Everything the API process and the Celery worker read from the environment."""

    # hide_input_in_errors: a validation error must not echo the URLs, which carry passwords.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, hide_input_in_errors=True, use_attribute_docstrings=True)

    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: LogLevel = "INFO"

    # URLs may carry passwords: kept out of repr() so that logging the settings leaks nothing.
    database_url: str = Field(repr=False)  # postgresql+psycopg://user:password@host:port/gateway
    redis_url: str = Field(repr=False)  # the gateway's logical database (1 in the local stack)
    redis_max_connections: int = 64
    redis_key_prefix: str = "gw:"  # every gateway key starts with it (cache:, lock:, cb:, rl:, cc:, quota:)
    redis_timeout_s: float = 1.0  # socket timeout: a stuck Redis must not hold requests (never cancel with wait_for)
    celery_broker_url: str = Field(repr=False)
    celery_result_backend: str | None = Field(default=None, repr=False)  # None: the broker's Redis; results are kept only for tasks that ask

    plant_id_base_url: str = "https://plant.id/api/v3"
    plant_id_api_key: SecretStr | None = None
    plant_id_timeout_s: float = 10.0  # cold Plant.id calls take ~1.6 s (external-apis.md 1.9)
    plantnet_base_url: str = "https://my-api.plantnet.org/v2"
    plantnet_api_key: SecretStr | None = None
    plantnet_timeout_s: float = 15.0  # Pl@ntNet was measured at ~3.4 s for a 1 MB JPEG
    plantnet_project: str = "all"  # or a flora id from GET /v2/projects (e.g. "weurope")
    engine_connect_timeout_s: float = 3.0
    # Long side each engine handles best (external-apis.md: the Plant.id SDK resizes to 1500 px,
    # Pl@ntNet downscales to 1280 px itself); larger uploads are resized before they are sent.
    plant_id_image_long_side: int = Field(default=1500, ge=256, le=5000)
    plantnet_image_long_side: int = Field(default=1280, ge=256, le=5000)
    # Enrichment: GBIF species match (keyless) and the CMS species pages (service token).
    gbif_base_url: str = "https://api.gbif.org/v1"
    gbif_enabled: bool = True
    gbif_timeout_s: float = 2.0
    cms_internal_url: str | None = "http://127.0.0.1:8103"  # None: no CMS enrichment
    cms_timeout_s: float = 1.5
    enrichment_budget_s: float = 1.5  # GBIF + CMS together never hold an answer longer than this

    # Tokens (docs/architecture.md, "Tokens"): verified locally against the auth service's JWKS.
    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    token_issuer: str = "plant-community-auth"
    token_audience: str = "identify-gateway"
    denylist_redis_url: str = Field(repr=False)  # the auth service's deny-list database (4 in the local stack)
    auth_timeout_s: float = 2.0  # JWKS and service-token fetches
    # The auth service's internal address: client credentials (POST /api/v1/auth/token) for the CMS call.
    auth_service_url: str = "http://127.0.0.1:8101"
    # This service's client id and secret there; unset: no CMS enrichment.
    service_client_id: str | None = None
    service_client_secret: SecretStr | None = None

    # None means "decide from the environment": anonymous callers allowed everywhere but production.
    # Independent of DEBUG: a production-like stack can run with it on or off.
    anonymous_allowed: bool = Field(default=None, validate_default=True)  # type: ignore[assignment]
    # The edge (Traefik): when the peer is one of these, the client is the last X-Forwarded-For hop.
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    rate_limit_window_s: int = Field(default=3600, ge=1)
    anonymous_limit: int = Field(default=10, ge=0)  # per client IP and window (seed: 10/h)
    # Per user and window, by the token's `tier`; an unknown tier gets the `free` figure (seed: 100/h).
    tier_limits: dict[str, int] = {"free": 100, "member": 100, "pro": 500, "premium": 1000, "enterprise": 5000}
    # Identifications one user may have in flight at once, for the paid tiers listed here.
    tier_concurrency: dict[str, int] = {"pro": 4, "premium": 6, "enterprise": 10}
    concurrency_lease_s: int = Field(default=60, ge=1)  # a crashed request frees its slot after this long

    # Uploads (perf-reliability-notes B10).
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)  # all images of one request together
    max_images: int = Field(default=5, ge=1, le=5)  # both engines take at most 5 images of one plant
    max_image_pixels: int = Field(default=40_000_000, ge=1_000_000)  # checked from the header, before decoding
    accept_heic: bool = True  # decoded with pillow-heif; re-encoded as JPEG like everything else
    decode_concurrency: int = Field(default=2, ge=1)  # images decoded at once per process (memory: ~30 MB each)

    # Cache TTLs per engine; an answer lives as long as its shortest-lived engine allows.
    plant_id_cache_ttl_s: int = Field(default=86_400, ge=0)  # seed: 24 h
    plantnet_cache_ttl_s: int = Field(default=86_400, ge=0)
    gbif_cache_ttl_s: int = Field(default=7 * 86_400, ge=0)  # taxonomy changes slowly
    degraded_cache_ttl_s: int = Field(default=30, ge=0)  # an answer missing an engine is retried soon
    # Single-flight lock lease, renewed every third of it while the engines run: it only bounds how long a
    # dead holder (or one whose release was lost in a Redis blip) keeps waiters of the same photo waiting.
    lock_lease_ms: int = Field(default=10_000, ge=1000)
    lock_wait_timeout_s: float = Field(default=15.0, ge=0.1)

    # Breakers: consecutive failures to open, seconds open before one probe, calls in flight per engine.
    plant_id_fail_max: int = Field(default=3, ge=1)
    plantnet_fail_max: int = Field(default=5, ge=1)
    enrichment_fail_max: int = Field(default=5, ge=1)
    breaker_reset_timeout_s: float = Field(default=60.0, gt=0)
    engine_max_concurrency: int = Field(default=50, ge=1)

    # Asynchronous identifications, scheduled upkeep, the status page (docs/jobs.md). Described with
    # attribute docstrings: `python -m devstack.settings_doc` puts them in the README.
    max_batch_images: int = Field(default=10, ge=1, le=50)
    """Photos (one plant each) in one batch job (`batch=true`)."""
    priority_tiers: list[str] = ["pro", "premium", "enterprise"]
    """Token tiers whose jobs take the `priority` lane."""
    job_max_retries: int = Field(default=4, ge=0, le=20)
    """Retries of a transient fault (no engine could answer, database or Redis fault) before a plant fails."""
    job_retry_base_s: float = Field(default=2.0, gt=0)
    """Exponential backoff of job retries: base × 2^retry, with jitter."""
    job_retry_max_s: float = Field(default=60.0, gt=0)
    """Cap of the retry backoff (keep it under the visibility timeout)."""
    job_max_deliveries: int = Field(default=5, ge=1)
    """A job whose worker died this many times (SIGKILL, OOM) fails with `worker_lost`."""
    job_timeout_s: float = Field(default=120.0, gt=0)
    """One attempt of one job; past it the attempt counts as a transient fault."""
    celery_visibility_timeout_s: int = Field(default=600, ge=5)
    """A message held by a worker that died is delivered again after this long (lower: faster recovery)."""
    celery_key_prefix: str = ""
    """Prefix of every broker key, queues included (deployments or test runs sharing one Redis)."""
    quota_check_interval_s: float = Field(default=60.0, gt=0)
    """Beat: how often the engine quota check runs."""
    quota_warning_ratio: float = Field(default=0.8, gt=0, le=1)
    """Share of an engine's quota used past which the check warns (log line and metric)."""
    retention_interval_s: float = Field(default=3600.0, gt=0)
    """Beat: how often retention runs."""
    history_retention_days: int = Field(default=183, ge=1)
    """Identifications (results) and jobs are deleted after this many days (~6 months)."""
    upload_retention_s: int = Field(default=86_400, ge=60)
    """Stored job photos (normally deleted when their job ends) and jobs still open expire after this."""
    admin_roles: list[str] = ["admin"]
    """Token roles that may see the live status page."""
    status_interval_s: float = Field(default=1.0, ge=0.1)
    """The status page's push period."""
    ws_resync_s: float = Field(default=15.0, ge=0.5)
    """A quiet job WebSocket re-reads the stored events this often (covers lost pub/sub messages)."""

    sentry_dsn: SecretStr | None = Field(default=None, repr=False)
    """Sentry DSN for error tracking; unset (the default): off, nothing is sent. Events carry no personal
    data: no Authorization or Cookie headers, bodies, client addresses, e-mail addresses or tokens."""
    sentry_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of errors sent to Sentry."""
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests traced for Sentry's performance view (0: none)."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _psycopg_url(cls, value: str) -> str:
        return require_database_url(value, variable=f"{ENV_PREFIX}DATABASE_URL", scheme=DRIVER, database="gateway")

    @field_validator("redis_url", "celery_broker_url")
    @classmethod
    def _redis_url(cls, value: str, info: ValidationInfo) -> str:
        return require_redis_url(value, variable=f"{ENV_PREFIX}{str(info.field_name).upper()}", example="redis://127.0.0.1:6380/1")

    @field_validator("denylist_redis_url")
    @classmethod
    def _denylist_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{ENV_PREFIX}DENYLIST_REDIS_URL must be the auth service's deny-list Redis, e.g. redis://127.0.0.1:6380/4")
        return value

    @field_validator("anonymous_allowed", mode="before")
    @classmethod
    def _anonymous_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return info.data.get("environment") != Environment.PRODUCTION
        return value

    @property
    def auth_token_url(self) -> str:
        return self.auth_service_url.rstrip("/") + "/api/v1/auth/token"

    @property
    def auth_required(self) -> bool:
        """A token is needed to identify (the health report's `requires_auth`)."""
        return not self.anonymous_allowed

    def tier_limit(self, tier: str | None) -> int:
        """Identifications per window for a user of `tier`."""
        return self.tier_limits.get(tier or "free", self.tier_limits.get("free", 100))

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        # Named after the variable that carries each secret, so the message names what to set.
        secrets = url_secrets(
            database_url=self.database_url,
            redis_urls={name: getattr(self, name) for name in ("redis_url", "celery_broker_url", "denylist_redis_url")},
        )
        # Engine keys are the vendors': their length is theirs (Pl@ntNet's are 25 characters).
        credentials = {"plant_id_api_key": _reveal(self.plant_id_api_key), "plantnet_api_key": _reveal(self.plantnet_api_key)}
        if self.service_client_secret is not None:  # optional (no CMS enrichment without it), but never a dev value
            secrets["service_client_secret"] = _reveal(self.service_client_secret)
        refuse_insecure_production(environment=self.environment, debug=self.debug, secrets=secrets, credentials=credentials, env_prefix=ENV_PREFIX)
        return self


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment
