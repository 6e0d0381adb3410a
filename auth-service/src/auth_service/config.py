"""The service's settings, read from `AUTH_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from plant_shared.settings import Environment, refuse_insecure_production
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
DRIVER = "postgresql+psycopg"


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not echo the URLs, which carry passwords.
    model_config = SettingsConfigDict(env_prefix="AUTH_", frozen=True, hide_input_in_errors=True)

    environment: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: LogLevel = "INFO"
    # e.g. postgresql+psycopg://auth:<password>@127.0.0.1:5433/auth; the same URL serves the
    # async engine and the sync one Alembic uses.
    database_url: str = Field(repr=False)
    # Redis logical database 0 belongs to auth, e.g. redis://127.0.0.1:6380/0.
    redis_url: str = Field(repr=False)
    access_token_ttl_seconds: int = Field(default=3600, gt=0)
    refresh_token_ttl_seconds: int = Field(default=604800, gt=0)
    public_base_url: str = "http://localhost:8000"

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
            raise ValueError(f"AUTH_DATABASE_URL is not a database URL; expected {DRIVER}://user:password@host:port/auth") from None
        if url.drivername != DRIVER:
            raise ValueError(f"AUTH_DATABASE_URL must use the {DRIVER}:// scheme (psycopg 3), not {url.drivername}://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("AUTH_REDIS_URL must start with redis://, rediss:// or unix://, e.g. redis://127.0.0.1:6380/0")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        secrets: dict[str, str | None] = {"database_url (password)": make_url(self.database_url).password}
        # Redis may run without a password on a private network; when it has one, it must be real.
        redis_password = make_url(self.redis_url).password if self.redis_url.startswith("redis") else None
        if redis_password is not None:
            secrets["redis_url (password)"] = redis_password
        refuse_insecure_production(environment=self.environment, debug=self.debug, secrets=secrets, env_prefix="AUTH_")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()  # type: ignore[call-arg]  # required fields come from the environment
