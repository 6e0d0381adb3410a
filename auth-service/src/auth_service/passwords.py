"""Password hashing with Argon2id (argon2-cffi's RFC 9106 defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# One instance: its parameters are the policy, and a changed policy shows up as `needs_rehash`.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Hash with a fresh salt; the result is a self-describing `$argon2id$...` string."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; False on mismatch or an unreadable hash, never an exception."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with parameters other than the current ones."""
    return _hasher.check_needs_rehash(password_hash)
