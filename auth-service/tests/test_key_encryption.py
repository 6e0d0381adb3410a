"""Private keys at rest: AES-GCM under the key-encryption key, bound to their kid."""

from __future__ import annotations

import secrets

import pytest

from auth_service.key_encryption import KeyDecryptionError, KeyEncryptor

KEK = secrets.token_urlsafe(30)  # generated per run: no key material in the repository


def test_sealed_key_opens_with_the_same_kek_and_kid():
    sealed = KeyEncryptor(KEK).seal("kid-1", b"-----BEGIN PRIVATE KEY-----")

    assert b"PRIVATE" not in sealed
    assert KeyEncryptor(KEK).open("kid-1", sealed) == b"-----BEGIN PRIVATE KEY-----"


def test_another_kek_cannot_open_it():
    sealed = KeyEncryptor(KEK).seal("kid-1", b"secret")

    with pytest.raises(KeyDecryptionError, match="AUTH_KEY_ENCRYPTION_KEY"):
        KeyEncryptor(secrets.token_urlsafe(30)).open("kid-1", sealed)


def test_a_ciphertext_moved_to_another_kid_does_not_open():
    sealed = KeyEncryptor(KEK).seal("kid-1", b"secret")

    with pytest.raises(KeyDecryptionError):
        KeyEncryptor(KEK).open("kid-2", sealed)


def test_damaged_or_unknown_format_is_refused():
    with pytest.raises(KeyDecryptionError, match="format"):
        KeyEncryptor(KEK).open("kid-1", b"\x02" + b"0" * 40)
