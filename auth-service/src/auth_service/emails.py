"""The one canonical form of an email address, used for storing and for looking up."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


class InvalidEmailError(ValueError):
    """The text is not an email address; the message says why."""


def normalize_email(raw: str) -> str:
    """Strip, NFC-normalise and lowercase: composed or decomposed accents and any case give one account."""
    return unicodedata.normalize("NFC", raw.strip()).lower()


def parse_email(raw: str) -> str:
    """Check the syntax (no DNS lookup) and return the canonical form.

    Raises:
        InvalidEmailError: with a sentence saying what is wrong.
    """
    try:
        # test_environment: accept the reserved `.test` domain the demo accounts use.
        validate_email(raw.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidEmailError(f"Invalid email address: {exc}") from None
    return normalize_email(raw)
