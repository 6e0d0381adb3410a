"""Settings helpers: the environment switch and the production guard every service applies."""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping


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
