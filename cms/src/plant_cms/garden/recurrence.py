"""When care tasks fall due.

Two kinds of recurrence (a task has exactly one):

- every N days counted from the last time it was done (watering: if you water a day late, the
  next watering moves too), optionally with another interval in the dormant months;
- a calendar rule, a small subset of RFC 5545 RRULE (feeding every 2 weeks from April to
  September, pruning on 1 March): `FREQ` (DAILY, WEEKLY, MONTHLY, YEARLY), `INTERVAL` (1-99),
  `BYMONTH` (1-12), `BYMONTHDAY` (1-28, so every month has it) and `BYDAY` (MO..SU, weekly rules).
  No COUNT, UNTIL, ordinals or times: a care task repeats until it is changed, on whole days.

Seasons follow the member's hemisphere: a month list written for the north is shifted by six
months for the south.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from dateutil import rrule as du

FREQUENCIES = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY, "YEARLY": du.YEARLY}
WEEKDAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
_ORDER = ("FREQ", "INTERVAL", "BYMONTH", "BYMONTHDAY", "BYDAY")
MAX_RULE_LENGTH = 200
# A rule must fall due at least once in this window after its start, or it is refused.
MUST_OCCUR_WITHIN = timedelta(days=2 * 366)

# Months of slow growth in the northern hemisphere: houseplants drink less and are not fed.
DORMANT_MONTHS_NORTH = frozenset({11, 12, 1, 2})
GROWING_MONTHS_NORTH = (3, 4, 5, 6, 7, 8, 9, 10)


class RecurrenceError(ValueError):
    """A rule outside the supported subset; the message says what is wrong, for the client."""


def shift_month(month: int, hemisphere: str) -> int:
    """The month that plays the same seasonal role in `hemisphere` as `month` does in the north."""
    return month if hemisphere != "south" else (month + 5) % 12 + 1


def shift_months(months: Iterable[int], hemisphere: str) -> list[int]:
    return sorted({shift_month(m, hemisphere) for m in months})


def is_dormant(day: date, hemisphere: str) -> bool:
    # shift_month is its own inverse: it also maps a southern month to its northern twin.
    return shift_month(day.month, hemisphere) in DORMANT_MONTHS_NORTH


def _int_list(name: str, value: str, low: int, high: int) -> list[int]:
    try:
        numbers = [int(part) for part in value.split(",")]
    except ValueError:
        raise RecurrenceError(f"{name} must be a comma-separated list of numbers from {low} to {high}.") from None
    if not numbers or any(not low <= n <= high for n in numbers) or len(numbers) > 31:
        raise RecurrenceError(f"{name} must be a comma-separated list of numbers from {low} to {high}.")
    return sorted(set(numbers))


def parse_rule(text: str) -> dict[str, object]:
    """The parts of a rule in the supported subset (see the module docstring).

    Accepts an optional `RRULE:` prefix, any key order and case.

    Raises:
        RecurrenceError: unsupported key or value, duplicate key, missing FREQ.
    """
    if not isinstance(text, str) or not text.strip():
        raise RecurrenceError("The rule is empty.")
    if len(text) > MAX_RULE_LENGTH:
        raise RecurrenceError(f"The rule is longer than {MAX_RULE_LENGTH} characters.")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts: dict[str, object] = {}
    for item in body.split(";"):
        key, sep, value = item.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise RecurrenceError("Write the rule as KEY=VALUE pairs separated by semicolons, e.g. FREQ=WEEKLY;INTERVAL=2.")
        if key in parts:
            raise RecurrenceError(f"{key} appears twice.")
        if key == "FREQ":
            if value not in FREQUENCIES:
                raise RecurrenceError("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.")
            parts[key] = value
        elif key == "INTERVAL":
            if not value.isdigit() or not 1 <= int(value) <= 99:
                raise RecurrenceError("INTERVAL must be a number from 1 to 99.")
            parts[key] = int(value)
        elif key == "BYMONTH":
            parts[key] = _int_list("BYMONTH", value, 1, 12)
        elif key == "BYMONTHDAY":
            parts[key] = _int_list("BYMONTHDAY", value, 1, 28)
        elif key == "BYDAY":
            days = [d.strip() for d in value.split(",")]
            if not days or any(d not in WEEKDAYS for d in days):
                raise RecurrenceError("BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU) without numbers.")
            parts[key] = sorted(set(days), key=list(WEEKDAYS).index)
        else:
            raise RecurrenceError(f"{key} is not supported; use FREQ, INTERVAL, BYMONTH, BYMONTHDAY and BYDAY.")
    if "FREQ" not in parts:
        raise RecurrenceError("The rule needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY).")
    if "BYDAY" in parts and parts["FREQ"] != "WEEKLY":
        raise RecurrenceError("BYDAY is only supported with FREQ=WEEKLY.")
    if "BYMONTHDAY" in parts and parts["FREQ"] not in ("MONTHLY", "YEARLY"):
        raise RecurrenceError("BYMONTHDAY is only supported with FREQ=MONTHLY or FREQ=YEARLY.")
    return parts


def format_rule(parts: dict[str, object]) -> str:
    """The canonical text of parsed parts: fixed key order, upper case, no `RRULE:` prefix."""
    out = []
    for key in _ORDER:
        if key not in parts:
            continue
        value = parts[key]
        out.append(f"{key}={','.join(str(v) for v in value) if isinstance(value, list) else value}")
    return ";".join(out)


def normalise_rule(text: str, *, starting: date) -> str:
    """Validate `text` and return its canonical form.

    Raises:
        RecurrenceError: outside the subset, or never due within two years of `starting`.
    """
    rule = format_rule(parse_rule(text))
    if next(iter(rule_dates(rule, anchor=starting, start=starting, until=starting + MUST_OCCUR_WITHIN)), None) is None:
        raise RecurrenceError("The rule never falls due in the next two years.")
    return rule


def _rrule(parts: dict[str, object], anchor: date, until: date) -> du.rrule:
    return du.rrule(
        FREQUENCIES[parts["FREQ"]],  # type: ignore[index]
        dtstart=datetime.combine(anchor, datetime.min.time()),
        interval=parts.get("INTERVAL", 1),  # type: ignore[arg-type]
        bymonth=parts.get("BYMONTH"),  # type: ignore[arg-type]
        bymonthday=parts.get("BYMONTHDAY"),  # type: ignore[arg-type]
        byweekday=[WEEKDAYS[d] for d in parts["BYDAY"]] if "BYDAY" in parts else None,  # type: ignore[union-attr]
        until=datetime.combine(until, datetime.min.time()),  # bounds every iteration, even of odd rules
        cache=False,
    )


def rule_dates(rule: str, *, anchor: date, start: date, until: date) -> Iterator[date]:
    """Days in [`start`, `until`] on which a calendar rule counted from `anchor` falls due."""
    if until < start:
        return
    for moment in _rrule(parse_rule(rule), anchor, until):
        day = moment.date()
        if day >= start:
            yield day


def interval_for(day: date, *, interval_days: int, dormant_interval_days: int | None, hemisphere: str) -> int:
    """Days until the next occurrence after one on `day`."""
    if dormant_interval_days and is_dormant(day, hemisphere):
        return dormant_interval_days
    return interval_days


def interval_dates(
    *, anchor: date, start: date, until: date, interval_days: int, dormant_interval_days: int | None, hemisphere: str
) -> Iterator[date]:
    """Days in [`start`, `until`] of the chain `anchor`, anchor + interval, ... (interval by season)."""
    day = anchor
    while day <= until:
        if day >= start:
            yield day
        day += timedelta(days=interval_for(day, interval_days=interval_days, dormant_interval_days=dormant_interval_days, hemisphere=hemisphere))
