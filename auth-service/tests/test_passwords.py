"""Argon2id password hashing."""

from __future__ import annotations

from argon2 import PasswordHasher

from auth_service.passwords import hash_password, needs_rehash, verify_password


def test_hash_is_argon2id():
    assert hash_password("correct horse").startswith("$argon2id$")


def test_same_password_hashes_differently():
    assert hash_password("correct horse") != hash_password("correct horse")


def test_verify_accepts_the_password_and_refuses_others():
    stored = hash_password("correct horse")

    assert verify_password(stored, "correct horse") is True
    assert verify_password(stored, "correct horse ") is False


def test_verify_refuses_an_unreadable_hash_without_raising():
    assert verify_password("not-a-hash", "anything") is False


def test_needs_rehash_only_for_other_parameters():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse")

    assert needs_rehash(hash_password("correct horse")) is False
    assert needs_rehash(weak) is True
    assert verify_password(weak, "correct horse") is True  # old hashes keep working
