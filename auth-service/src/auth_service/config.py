"""The service's settings, read from `AUTH_*` environment variables.

Each field's docstring is its documentation (pydantic keeps it as the field description); the
README's settings table is built from them.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal

from plant_shared.settings import Environment, refuse_insecure_production, require_database_url, require_redis_url, url_secrets
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
MailBackend = Literal["console", "file"]
Network = IPv4Network | IPv6Network
DRIVER = "postgresql+psycopg"


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not echo the URLs, which carry passwords.
    model_config = SettingsConfigDict(env_prefix="AUTH_", frozen=True, hide_input_in_errors=True, use_attribute_docstrings=True)

    environment: Environment = Environment.DEVELOPMENT
    """`development`, `test` or `production`; production refuses debug and development secrets."""
    debug: bool = False
    """FastAPI debug mode (tracebacks in responses); refused in production."""
    log_level: LogLevel = "INFO"
    """Log level of the JSON logs on stdout (case-insensitive)."""

    database_url: str = Field(repr=False)
    """Required. The service's own database, e.g. `postgresql+psycopg://auth:<password>@127.0.0.1:5433/auth`;
    the same URL serves the async engine and the sync one Alembic uses."""
    redis_url: str = Field(repr=False)
    """Required. The service's Redis database (0), e.g. `redis://127.0.0.1:6380/0`: login throttling."""
    denylist_redis_url: str = Field(repr=False)
    """Required. The token deny-list and the `events:accounts` stream (Redis database 4), shared
    read-only with every verifier, e.g. `redis://127.0.0.1:6380/4`."""

    issuer: str = "plant-community-auth"
    """The `iss` of every token; verifiers must be configured with the same value."""
    access_token_ttl_seconds: int = Field(default=3600, gt=0)
    """Lifetime of a user's access token (JWT)."""
    refresh_token_ttl_seconds: int = Field(default=604800, gt=0)
    """Lifetime of a refresh token; each rotation issues a new one with a fresh lifetime."""
    service_token_ttl_seconds: int = Field(default=300, gt=0)
    """Lifetime of a service (client-credentials) token."""
    refresh_reuse_grace_seconds: float = Field(default=0, ge=0, le=30)
    """A rotated refresh token presented again within this many seconds (and only the previous
    generation) answers 401 without revoking its family, for clients that refresh concurrently.
    0 (the default): every reuse revokes the family."""

    key_encryption_key: str = Field(repr=False, min_length=32)
    """Required, 32 characters at least. Encrypts the signing keys' private halves in PostgreSQL
    (AES-256-GCM under a key derived with HKDF). Changing it makes the stored private keys
    unreadable: the service stays not-ready until `auth-service rotate-signing-key` makes a new key
    (the old public keys stay published, so issued tokens keep verifying)."""
    key_refresh_seconds: float = Field(default=60, gt=0)
    """How often each process re-reads the signing keys from PostgreSQL, so a key rotated by the
    CLI becomes the signer everywhere; a retired key stays published this much longer."""

    public_base_url: str = "http://localhost:8000"
    """The public origin; links in mails (password reset) start with it."""
    mail_backend: MailBackend = "console"
    """`console` logs each mail (development), `file` appends it as a JSON line to `AUTH_MAIL_FILE_PATH`
    (tests read links from there); SMTP comes later."""
    mail_file_path: Path | None = None
    """Where the `file` mail backend appends (required with it)."""
    mail_from: str = "Plant Community <no-reply@plant.community>"
    """The sender of the service's mails."""
    password_reset_ttl_seconds: int = Field(default=1800, gt=0)
    """Lifetime of a password-reset token (single use)."""

    refresh_cookie_secure: bool | None = None
    """The `Secure` flag of the web refresh and CSRF cookies; unset = on everywhere except development."""

    login_window_seconds: int = Field(default=900, gt=0)
    """Sliding window over which failed logins are counted, per account and per client IP."""
    login_slowdown_after: int = Field(default=3, ge=1)
    """Failed logins for one account in the window after which each answer is delayed (for one IP
    the threshold is scaled by `AUTH_LOGIN_LOCK_AFTER_IP / AUTH_LOGIN_LOCK_AFTER_ACCOUNT`)."""
    login_slowdown_step_seconds: float = Field(default=0.5, ge=0)
    """Added delay per failure beyond `AUTH_LOGIN_SLOWDOWN_AFTER`."""
    login_slowdown_max_seconds: float = Field(default=3.0, ge=0)
    """Upper bound of that delay."""
    login_lock_after_account: int = Field(default=10, ge=1)
    """Failed logins for one account in the window that lock it (429) for `AUTH_LOGIN_LOCK_SECONDS`."""
    login_lock_after_ip: int = Field(default=50, ge=1)
    """Failed logins from one client IP in the window that lock that IP out of logins."""
    login_lock_seconds: int = Field(default=900, gt=0)
    """How long a lock lasts; the 429's `Retry-After` counts down to its end."""

    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    """Comma-separated addresses or networks of the edge. When the direct peer is one of them, the
    client IP is the last entry of `X-Forwarded-For` (the address the edge saw)."""
    max_body_bytes: int = Field(default=65536, gt=0)
    """Larger request bodies are refused with 413 before they are read."""

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

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _psycopg_url(cls, value: str) -> str:
        return require_database_url(value, variable="AUTH_DATABASE_URL", scheme=DRIVER, database="auth")

    @field_validator("redis_url", "denylist_redis_url")
    @classmethod
    def _redis_url(cls, value: str, info: ValidationInfo) -> str:
        return require_redis_url(value, variable=f"AUTH_{(info.field_name or 'redis_url').upper()}", example="redis://127.0.0.1:6380/0")

    @model_validator(mode="after")
    def _mail_file_needs_a_path(self) -> Settings:
        if self.mail_backend == "file" and self.mail_file_path is None:
            raise ValueError("AUTH_MAIL_BACKEND=file needs AUTH_MAIL_FILE_PATH (the file mails are appended to)")
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        secrets = url_secrets(database_url=self.database_url, redis_urls={"redis_url": self.redis_url, "denylist_redis_url": self.denylist_redis_url})
        secrets["key_encryption_key"] = self.key_encryption_key
        refuse_insecure_production(environment=self.environment, debug=self.debug, secrets=secrets, env_prefix="AUTH_")
        return self

    @property
    def cookie_secure(self) -> bool:
        """The effective `Secure` flag of the web cookies."""
        if self.refresh_cookie_secure is not None:
            return self.refresh_cookie_secure
        return self.environment != Environment.DEVELOPMENT


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment
