"""The password strength policy and its message."""

from __future__ import annotations

import pytest

from auth_service.password_policy import WeakPasswordError, check_password


@pytest.mark.parametrize("password", ["Green-leaves-42", "correct horse battery", "moss&lichen-on-oak", "Ünïcödé-Gärten-1", "longpassword7"])
def test_strong_enough_passwords_pass(password):
    check_password(password, email="rosa@plant.test")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short-1", "at least 10 characters"),
        ("abcdefghijkl", "mix at least two"),
        ("ABCDEFGHIJKL", "mix at least two"),
        ("123456789012", "mix at least two"),
        ("!!!!!!!!!!!!", "mix at least two"),
        ("Password123", "commonly used"),
        ("QWERTY1234", "commonly used"),
        ("rosa@plant.test", "email address"),
        ("Rosa@Plant.Test", "email address"),
        ("x" * 257 + "1", "at most 256"),
    ],
)
def test_weak_passwords_are_refused_naming_the_rule(password, rule):
    with pytest.raises(WeakPasswordError, match=rule) as raised:
        check_password(password, email="rosa@plant.test")

    assert str(raised.value).startswith("Choose a stronger password: ")


def test_every_broken_rule_is_listed_at_once():
    with pytest.raises(WeakPasswordError) as raised:
        check_password("aaaa")

    assert "at least 10 characters" in str(raised.value) and "mix at least two" in str(raised.value)
