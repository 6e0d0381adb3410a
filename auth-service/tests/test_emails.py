"""The canonical email form."""

from __future__ import annotations

import unicodedata

import pytest

from auth_service.emails import InvalidEmailError, normalize_email, parse_email


def test_strips_and_lowercases():
    assert normalize_email("  Alice.Smith@Example.ORG \n") == "alice.smith@example.org"


def test_unicode_upper_case_is_lowered():
    assert normalize_email("ÉMILE@Gärtner.DE") == "émile@gärtner.de"


def test_composed_and_decomposed_accents_are_one_address():
    composed = "\u00e9mile@plant.test"
    decomposed = "e\u0301mile@plant.test"

    assert normalize_email(decomposed) == normalize_email(composed)
    assert unicodedata.is_normalized("NFC", normalize_email(decomposed))


def test_parse_returns_the_canonical_form():
    assert parse_email(" Rose@Plant.Test ") == "rose@plant.test"


@pytest.mark.parametrize("raw", ["", "no-at-sign", "two@@plant.test", "space in@plant.test", "a@"])
def test_parse_refuses_what_is_not_an_address(raw):
    with pytest.raises(InvalidEmailError, match="Invalid email address"):
        parse_email(raw)
