"""The minimum password strength, with one message that lists what to change."""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 10
# Bounds the hashing work one request can ask for; far above any passphrase.
MAX_LENGTH = 256

# Commonly used passwords that are long enough and mix classes, so the other rules let them
# through. Compared in lower case, so "Password123" is refused too. Kept small and in code on
# purpose; a breached-password service can replace it later.
COMMON_PASSWORDS = frozenset(
    {
        "password12", "password123", "password1234", "password!1", "password1!", "passw0rd123",
        "qwerty1234", "qwerty12345", "qwertyuiop1", "1qaz2wsx3edc", "1q2w3e4r5t", "zaq12wsxcde",
        "iloveyou12", "iloveyou123", "welcome123", "welcome1234", "letmein123", "changeme123",
        "admin12345", "administrator1", "abc1234567", "abcd123456", "1234567890a", "a1234567890",
        "football123", "baseball123", "sunshine123", "princess123", "monkey12345", "dragon12345",
        "trustno1234", "superman123", "starwars123", "computer123", "internet123", "michael123",
        "plants12345", "gardening1", "gardening123", "plantlover1", "houseplant1", "monstera123",
    }
)

_CLASSES = ("lower case letters", "upper case letters", "digits", "symbols or spaces")


class WeakPasswordError(ValueError):
    """The password breaks the policy; the message names every rule it breaks."""


def _classes(password: str) -> set[int]:
    found = set()
    for char in password:
        category = unicodedata.category(char)
        if category == "Ll":
            found.add(0)
        elif category in ("Lu", "Lt"):
            found.add(1)
        elif category == "Nd":
            found.add(2)
        else:  # other letters (scripts without case count as symbols), punctuation, spaces, emoji
            found.add(3)
    return found


def check_password(password: str, *, email: str | None = None) -> None:
    """Refuse a weak password.

    Rules: at least 10 characters (and at most 256); at least two kinds of characters among
    lower case, upper case, digits and symbols; not the email address or its local part; not a
    commonly used password.

    Raises:
        WeakPasswordError: naming each broken rule.
    """
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"use at most {MAX_LENGTH} characters")
    if len(_classes(password)) < 2:
        problems.append("mix at least two of: " + ", ".join(_CLASSES))
    folded = unicodedata.normalize("NFC", password).strip().lower()
    if email and folded in {email.lower(), email.lower().partition("@")[0]}:
        problems.append("do not use your email address")
    if folded in COMMON_PASSWORDS:
        problems.append("do not use a commonly used password")
    if problems:
        raise WeakPasswordError("Choose a stronger password: " + "; ".join(problems) + ".")
