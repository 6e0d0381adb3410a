"""Error tracking: Sentry when a DSN is configured, nothing at all otherwise, and never personal data.

Every process calls `init_error_tracking` once at start-up (FastAPI apps, the Celery worker and beat,
the CMS's settings). Without a DSN the SDK is not even initialised, so no event, breadcrumb or
session can leave the process. With one, the SDK's integrations for whatever is installed
(FastAPI/Starlette, Django, Celery, SQLAlchemy, Redis, logging) are enabled automatically, and
every event goes through `scrub_event` first: no headers that authenticate, no cookies, no
bodies, no client addresses, and e-mail addresses, IPs and tokens masked in every string it carries.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Mapping

import sentry_sdk

FILTERED = "[Filtered]"

# Request headers that authenticate a caller or identify their address; dropped from every event.
_SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-csrftoken",
        "x-csrf-token",
        "x-api-key",
        "api-key",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "true-client-ip",
        "cf-connecting-ip",
    }
)
# Keys whose values are secrets or personal data wherever they appear (extra, contexts, query pairs).
_SENSITIVE_KEY = re.compile(r"pass(word)?|secret|token|api[-_]?key|auth|cookie|session|csrf|email|e-mail|ip_address|remote_addr|credential", re.I)
# Values masked inside any string (messages, exception values, breadcrumbs, URLs).
_EMAIL = re.compile(r"[\w.+-]+@(?:[\w-]+\.)+[A-Za-z]{2,}\b")  # a letter TLD: `auth-service@0.1.0` is a release
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[^\s,;\"']+", re.I)
_KEY_VALUE = re.compile(r"\b((?:access_|refresh_|id_)?token|password|secret|api[-_]?key|code)=[^&\s\"']+", re.I)
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Full form, or compressed with "::" (so that clock times like 12:30:45 stay).
_IPV6 = re.compile(r"(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{0,4}::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{0,4})(?![\w:])", re.I)


def scrub_text(text: str) -> str:
    """`text` with e-mail addresses, tokens, credentials in `key=value` pairs and IP addresses masked."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    text = _JWT.sub(FILTERED, text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}={FILTERED}", text)
    text = _EMAIL.sub(FILTERED, text)
    text = _IPV4.sub(FILTERED, text)
    return _IPV6.sub(FILTERED, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {key: FILTERED if isinstance(key, str) and _SENSITIVE_KEY.search(key) else _scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]
    return value


def _scrub_request(request: dict[str, Any]) -> dict[str, Any]:
    # Bodies and cookies are never sent; `env` holds REMOTE_ADDR and the server's own address.
    for key in ("data", "cookies", "env"):
        request.pop(key, None)
    headers = request.get("headers")
    if isinstance(headers, Mapping):
        request["headers"] = {name: value for name, value in headers.items() if name.lower() not in _SENSITIVE_HEADERS}
    query = request.get("query_string")
    if isinstance(query, str):
        request["query_string"] = scrub_text(query)
    return request


def scrub_event(event: dict[str, Any], _hint: Any = None) -> dict[str, Any]:
    """Sentry's `before_send`: the event without anything that identifies a person or a credential."""
    if isinstance(event.get("request"), dict):
        event["request"] = _scrub_request(event["request"])
    user = event.pop("user", None)
    if isinstance(user, Mapping) and user.get("id"):  # a pseudonymous id may stay; name, e-mail and IP never
        event["user"] = {"id": str(user["id"])}
    for key in ("logentry", "message", "exception", "breadcrumbs", "extra", "contexts", "tags", "request", "spans", "transaction"):
        if key in event:
            event[key] = _scrub(event[key])
    return event


def release_of(distribution: str) -> str | None:
    """`<distribution>@<version>` of an installed package (Sentry's release tag), None when unknown."""
    try:
        return f"{distribution}@{version(distribution)}"
    except PackageNotFoundError:
        return None


def init_error_tracking(
    *,
    service: str,
    dsn: str | None,
    environment: str,
    release: str | None = None,
    sample_rate: float = 1.0,
    traces_sample_rate: float = 0.0,
) -> bool:
    """Start sending errors to Sentry when `dsn` is set; do nothing otherwise.

    Args:
        service: tagged on every event (`service`), so one Sentry project can hold every process.
        dsn: the project's DSN; None or blank keeps error tracking off.
        environment: Sentry's `environment` (development, test, production).
        release: Sentry's `release`, e.g. from `release_of("auth-service")`.
        sample_rate: share of error events sent (1.0: all).
        traces_sample_rate: share of requests traced for performance (0: none).

    Returns:
        Whether error tracking is on.
    """
    if not dsn or not dsn.strip():
        return False
    sentry_sdk.init(
        dsn=dsn.strip(),
        environment=str(environment),
        release=release,
        sample_rate=sample_rate,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,  # frame locals hold passwords, tokens and request objects
        max_request_body_size="never",
        before_send=scrub_event,
        before_send_transaction=scrub_event,
    )
    sentry_sdk.set_tag("service", service)
    return True


def init_from_settings(settings: Any, *, service: str, distribution: str) -> bool:
    """`init_error_tracking` from a service's settings object (`sentry_dsn`, `sentry_sample_rate`,
    `sentry_traces_sample_rate`, `environment`)."""
    dsn = settings.sentry_dsn
    return init_error_tracking(
        service=service,
        dsn=dsn.get_secret_value() if hasattr(dsn, "get_secret_value") else dsn,
        environment=settings.environment,
        release=release_of(distribution),
        sample_rate=settings.sentry_sample_rate,
        traces_sample_rate=settings.sentry_traces_sample_rate,
    )
