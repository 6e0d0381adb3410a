"""The garden's pure parts: plain text, recurrence rules, care guide to tasks."""

from __future__ import annotations

from datetime import date

import pytest

from plant_cms.garden.care_guide import household_warnings, tasks_for
from plant_cms.garden.recurrence import RecurrenceError, interval_dates, is_dormant, normalise_rule, rule_dates, shift_months
from plant_cms.garden.text import plain_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<script>alert(1)</script>Fern", "Fern"),
        ("a < b & c > d", "a < b & c > d"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;x", "x"),
        ('<img src=x onerror="alert(1)">Hi', "Hi"),
        ("x<3 my fern", "x<3 my fern"),
        ("<<script>script>alert(1)<</script>/script>", ""),
        ("<!-- hidden -->ok", "ok"),
        ("right\u202eto-left", "rightto-left"),
        ("tab\tand\x00null", "tab andnull"),
    ],
)
def test_plain_text(raw, clean):
    assert plain_text(raw, multiline=False) == clean


def test_plain_text_keeps_paragraphs_when_multiline():
    assert plain_text("one\r\n\r\n\r\n\r\ntwo  words<br>three", multiline=True) == "one\n\ntwo words\nthree"


@pytest.mark.parametrize(
    ("rule", "canonical"),
    [
        ("rrule:freq=weekly;interval=2;bymonth=9,4,5", "FREQ=WEEKLY;INTERVAL=2;BYMONTH=4,5,9"),
        ("BYDAY=SU,MO;FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=MO,SU"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1"),
    ],
)
def test_rules_are_normalised(rule, canonical):
    assert normalise_rule(rule, starting=date(2026, 11, 22)) == canonical


@pytest.mark.parametrize(
    "rule",
    ["", "FREQ=HOURLY", "FREQ=DAILY;COUNT=3", "FREQ=DAILY;UNTIL=20270101", "INTERVAL=2", "FREQ=DAILY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=1MO",
     "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=WEEKLY;INTERVAL=0", "FREQ=WEEKLY;INTERVAL=100", "FREQ=DAILY;FREQ=DAILY", "garbage",
     "FREQ=YEARLY;BYMONTH=13", "FREQ=YEARLY;INTERVAL=99;BYMONTH=2;BYMONTHDAY=28"],
)
def test_rules_outside_the_subset_are_refused(rule):
    with pytest.raises(RecurrenceError):
        normalise_rule(rule, starting=date(2026, 11, 22))


def test_calendar_rules_and_seasonal_intervals():
    assert list(rule_dates("FREQ=WEEKLY;INTERVAL=2;BYMONTH=4,5", anchor=date(2026, 11, 22), start=date(2026, 11, 22), until=date(2027, 5, 31))) == [
        date(2027, 4, 11), date(2027, 4, 25), date(2027, 5, 9), date(2027, 5, 23)
    ]
    chain = interval_dates(anchor=date(2026, 10, 20), start=date(2026, 10, 20), until=date(2026, 12, 20), interval_days=7, dormant_interval_days=14, hemisphere="north")
    assert list(chain) == [date(2026, 10, d) for d in (20, 27)] + [date(2026, 11, 3), date(2026, 11, 17), date(2026, 12, 1), date(2026, 12, 15)]
    assert is_dormant(date(2026, 12, 1), "north") and not is_dormant(date(2026, 12, 1), "south") and is_dormant(date(2026, 6, 1), "south")
    assert shift_months([4, 5, 6], "south") == [10, 11, 12]


def test_an_empty_care_guide_gives_defaults():
    kinds = {spec.kind: spec for spec in tasks_for({}, hemisphere="north")}

    assert set(kinds) == {"watering", "feeding", "repotting"}
    assert (kinds["watering"].interval_days, kinds["watering"].dormant_interval_days) == (7, 14)
    assert kinds["feeding"].rrule == "FREQ=WEEKLY;INTERVAL=4;BYMONTH=4,5,6,7,8,9"


def test_pruning_once_per_run_of_months_across_the_new_year():
    [pruning] = [s for s in tasks_for({"pruning": {"months": [11, 12, 1, 6, 7]}}, hemisphere="north") if s.kind == "pruning"]

    assert pruning.rrule == "FREQ=YEARLY;BYMONTH=6,11;BYMONTHDAY=1"


def test_no_warning_without_a_species():
    assert household_warnings(None, has_pets=True, has_children=True) == []
