"""Settings helpers: the environment switch and the production guard every service applies."""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping
from urllib.parse import unquote, urlsplit


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


# Values that must never reach production: placeholders, and the marker dev secrets carry.
DEV_SECRET_MARKER = "dev-insecure-"
_PLACEHOLDERS = {"", "changethis", "changeme", "secret", "password"}


class InsecureSettingsError(ValueError):
    """Raised when production settings carry a development value."""


def _is_placeholder(value: str | None) -> bool:
    return value is None or value.strip().lower() in _PLACEHOLDERS or value.startswith(DEV_SECRET_MARKER)


def refuse_insecure_production(
    *,
    environment: str,
    debug: bool,
    secrets: Mapping[str, str | None],
    credentials: Mapping[str, str | None] | None = None,
    env_prefix: str = "",
) -> None:
    """Refuse to start in production with `DEBUG` on or a development/placeholder secret.

    Args:
        environment: the service's environment name.
        debug: the service's debug flag.
        secrets: setting name -> value, for every secret the service generates itself
            (checked for placeholders, the development marker and a 32-character floor).
        credentials: setting name -> value, for keys a vendor issues (their length is theirs:
            checked for placeholders and the development marker only).
        env_prefix: the service's environment prefix, so the message names the variable to set.

    Raises:
        InsecureSettingsError: naming each offending variable and how to fix it.
    """
    if environment != Environment.PRODUCTION:
        return
    problems = []
    if debug:
        problems.append(f"{env_prefix}DEBUG must be false in production")
    for name, value in (credentials or {}).items():
        if _is_placeholder(value):
            problems.append(f"{env_prefix}{name.upper()} must be set to the real API key the provider issued")
    for name, value in secrets.items():
        if _is_placeholder(value):
            problems.append(f"{env_prefix}{name.upper()} must be set to a real secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        elif len(value) < 32:
            problems.append(f"{env_prefix}{name.upper()} is too short for production (32 characters at least)")
    if problems:
        raise InsecureSettingsError("refusing to start in production: " + "; ".join(problems))


# --- URL settings: the checks every service applies to its database and Redis URLs --------------

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def require_database_url(value: str, *, variable: str, scheme: str, database: str) -> str:
    """`value` when it is a URL with `scheme` (e.g. `postgresql+psycopg`).

    Raises:
        ValueError: naming `variable` and the expected form.
    """
    found, separator, _ = value.partition("://")
    if not separator or not found:
        raise ValueError(f"{variable} is not a database URL; expected {scheme}://user:password@host:port/{database}")
    if found != scheme:
        raise ValueError(f"{variable} must use the {scheme}:// scheme (psycopg 3), not {found}://")
    return value


def require_redis_url(value: str, *, variable: str, example: str) -> str:
    """`value` when it is a Redis URL.

    Raises:
        ValueError: naming `variable`, with `example` as the fix.
    """
    if not value.startswith(REDIS_SCHEMES):
        raise ValueError(f"{variable} must start with redis://, rediss:// or unix://, e.g. {example}")
    return value


def url_password(url: str) -> str | None:
    """The (percent-decoded) password inside a URL, None when it has none."""
    password = urlsplit(url).password
    return unquote(password) if password is not None else None


def url_secrets(*, database_url: str, redis_urls: Mapping[str, str]) -> dict[str, str | None]:
    """The passwords a service's URLs carry, for `refuse_insecure_production(secrets=...)`.

    The database password is always checked (production needs one); a Redis URL's only when it has
    one (Redis may run without a password on a private network; when it has one, it must be real).
    """
    secrets: dict[str, str | None] = {"database_url (password)": url_password(database_url)}
    for name, url in redis_urls.items():
        password = url_password(url) if url.startswith("redis") else None
        if password is not None:
            secrets[f"{name} (password)"] = password
    return secrets
