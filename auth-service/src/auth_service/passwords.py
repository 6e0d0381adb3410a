"""Password hashing with Argon2id (argon2-cffi's RFC 9106 defaults)."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Callable, TypeVar

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


T = TypeVar("T")

# Argon2 takes ~50 ms and 64 MiB per call: run it off the event loop, a few at a time, so the
# loop keeps serving and memory stays bounded. (argon2-cffi releases the GIL while hashing.)
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="argon2")


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _verify_against_dummy(password: str) -> bool:
    verify_password(_dummy_hash(), password)
    return False


async def _in_pool(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)


async def warm_up() -> None:
    """Make the dummy hash now (lifespan), so the first unknown-email login costs what the others do."""
    await _in_pool(_dummy_hash)


async def hash_password_async(password: str) -> str:
    """`hash_password` in the hashing pool."""
    return await _in_pool(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` in the hashing pool. With no hash (unknown account, or one without a
    password), verify against a dummy hash and answer False: the same work, the same answer."""
    if password_hash is None:
        return await _in_pool(_verify_against_dummy, password)
    return await _in_pool(verify_password, password_hash, password)
