"""Reading the CMS's environment: every variable is prefixed `CMS_`; a missing or malformed one fails
at start-up with a message that names the variable and how to fix it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

PREFIX = "CMS_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(PREFIX + name)
    return value.strip() if value is not None and value.strip() else None


def required(name: str, example: str) -> str:
    """The variable's value.

    Raises:
        ImproperlyConfigured: when it is unset or blank, showing `example` as the fix.
    """
    value = _raw(name)
    if value is None:
        raise ImproperlyConfigured(f"{PREFIX}{name} is not set: export {PREFIX}{name}={example}")
    return value


def text(name: str, default: str) -> str:
    return _raw(name) or default


def flag(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{PREFIX}{name}={value!r} is not a boolean: use true or false")


def integer(name: str, default: int) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{PREFIX}{name}={value!r} is not a whole number") from None


def listing(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blank items are dropped."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def path(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value) if value else default


def database_from_url(url: str, *, variable: str = PREFIX + "DATABASE_URL") -> dict[str, Any]:
    """Django's `DATABASES` entry for a `postgresql://user:password@host:port/name?option=value` URL.

    Query parameters become connection options (`sslmode`, `connect_timeout`, ...).

    Raises:
        ImproperlyConfigured: for another scheme, a bad port or a missing database name.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(f"{variable} must be a postgresql://user:password@host:port/name URL, not {parts.scheme or 'no'} scheme")
    try:
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{variable} has an invalid port: {exc}") from None
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(f"{variable} names no database: end it with /<database name>")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def redis_url(name: str, example: str = "redis://127.0.0.1:6379/3") -> str:
    """A required Redis URL (`redis://`, `rediss://` or `unix://`); `example` shows the fix."""
    url = required(name, example)
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(f"{PREFIX}{name} must be a redis://host:port/db URL")
    return url
