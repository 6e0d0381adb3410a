"""The gateway's settings: one class, read from `GATEWAY_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from plant_shared.settings import Environment, refuse_insecure_production

ENV_PREFIX = "GATEWAY_"
DRIVER = "postgresql+psycopg"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Everything the API process and the Celery worker read from the environment."""

    # hide_input_in_errors: a validation error must not echo the URLs, which carry passwords.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, hide_input_in_errors=True)

    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: LogLevel = "INFO"

    # URLs may carry passwords: kept out of repr() so that logging the settings leaks nothing.
    database_url: str = Field(repr=False)  # postgresql+psycopg://user:password@host:port/gateway
    redis_url: str = Field(repr=False)  # the gateway's logical database (1 in the local stack)
    redis_max_connections: int = 64
    redis_timeout_s: float = 1.0  # socket timeout: a stuck Redis must not hold requests (never cancel with wait_for)
    celery_broker_url: str = Field(repr=False)
    celery_result_backend: str | None = Field(default=None, repr=False)  # None: the broker's Redis; results are kept only for tasks that ask

    plant_id_base_url: str = "https://plant.id/api/v3"
    plant_id_api_key: SecretStr | None = None
    plant_id_timeout_s: float = 10.0  # cold Plant.id calls take ~1.6 s (external-apis.md 1.9)
    plantnet_base_url: str = "https://my-api.plantnet.org/v2"
    plantnet_api_key: SecretStr | None = None
    plantnet_timeout_s: float = 15.0  # Pl@ntNet was measured at ~3.4 s for a 1 MB JPEG
    engine_connect_timeout_s: float = 3.0

    # None means "decide from the environment": required in production, anonymous allowed elsewhere.
    auth_required: bool = Field(default=None, validate_default=True)  # type: ignore[assignment]
    plant_id_fail_max: int = Field(default=3, ge=1)
    plantnet_fail_max: int = Field(default=5, ge=1)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _psycopg_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"{ENV_PREFIX}DATABASE_URL is not a database URL; expected {DRIVER}://user:password@host:port/gateway") from None
        if url.drivername != DRIVER:
            raise ValueError(f"{ENV_PREFIX}DATABASE_URL must use the {DRIVER}:// scheme (psycopg 3), not {url.drivername}://")
        return value

    @field_validator("redis_url", "celery_broker_url")
    @classmethod
    def _redis_url(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{ENV_PREFIX}{str(info.field_name).upper()} must start with redis://, rediss:// or unix://, e.g. redis://127.0.0.1:6380/1")
        return value

    @field_validator("auth_required", mode="before")
    @classmethod
    def _auth_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return info.data.get("environment") == Environment.PRODUCTION
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        # Named after the variable that carries each secret, so the message names what to set.
        secrets = {"database_url (password)": make_url(self.database_url).password}
        # Redis may run without a password on a private network; when it has one, it must be real.
        for name in ("redis_url", "celery_broker_url"):
            password = make_url(getattr(self, name)).password if getattr(self, name).startswith("redis") else None
            if password is not None:
                secrets[f"{name} (password)"] = password
        # Engine keys are the vendors': their length is theirs (Pl@ntNet's are 25 characters).
        credentials = {"plant_id_api_key": _reveal(self.plant_id_api_key), "plantnet_api_key": _reveal(self.plantnet_api_key)}
        refuse_insecure_production(environment=self.environment, debug=self.debug, secrets=secrets, credentials=credentials, env_prefix=ENV_PREFIX)
        return self


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment
