"""Recognise "a dependency is away" among unexpected errors, so services answer 503, not 500.

A database that is down or restarting surfaces as the driver's `OperationalError` (psycopg,
wrapped by SQLAlchemy or Django as their own `OperationalError`/`InterfaceError`) or as a bare
socket error; the request may be retried later, so the answer is 503 with `Retry-After`. Matched by
class name and module along the exception chain: this library depends on neither driver.
"""

from __future__ import annotations

OUTAGE_DETAIL = "A dependency is unavailable; try again shortly."
OUTAGE_CODE = "service_unavailable"
RETRY_AFTER_S = 5

_DRIVER_MODULES = ("psycopg", "psycopg2", "sqlalchemy", "django.db")
_DRIVER_ERRORS = ("OperationalError", "InterfaceError")


def _is_driver_outage(exc: BaseException) -> bool:
    return any(cls.__name__ in _DRIVER_ERRORS and cls.__module__.startswith(_DRIVER_MODULES) for cls in type(exc).__mro__)


def is_dependency_outage(exc: BaseException) -> bool:
    """True when `exc`, or an exception it was raised from, says a dependency could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)) or _is_driver_outage(current):
            return True
        # `raise … from None` means the service already said what the error is: do not look behind it.
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return False
