"""The verified-token memory: what a verifier remembers of the tokens whose signature it checked.

A client sends the same access token for up to an hour, so after its first verification a token
is recognised by its exact bytes and skips the header, key and signature steps. What may change
between two requests is still judged on every one: the expiry (with the leeway), whether the
token's key is still published, and the deny-list (by the caller, with the remembered keys).
"""

from __future__ import annotations

from typing import Callable

from plant_shared.tokens.checks import denylist_keys
from plant_shared.tokens.claims import Claims

KeyPublished = Callable[[str], bool]  # kid -> is that key still in the verifier's key set


class Verified:
    """One verified token: its claims, its key id, until when it may be used, its deny-list keys."""

    __slots__ = ("claims", "kid", "usable_until", "denylist_keys")

    def __init__(self, claims: Claims, kid: str, leeway: float) -> None:
        self.claims = claims
        self.kid = kid
        self.usable_until = claims.exp + leeway  # the same rule as PyJWT's: expired once exp <= now - leeway
        self.denylist_keys = tuple(denylist_keys(claims))  # built once, read on every request


class VerifiedTokens:
    """At most `size` verified tokens by their exact text, the oldest forgotten first.

    Keyed by the whole compact token, so any other byte (a tampered header, payload or signature)
    is a different token that gets the full verification. Only tokens that passed it are stored,
    so a stream of forgeries cannot fill the memory. Safe to share between threads: single dict
    operations only (a lost race costs at most one extra verification).

    Args:
        size: tokens remembered; 0 turns the memory off (`recall` always misses).
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("the verified-token memory size must be 0 (off) or more")
        self.size = size
        self._entries: dict[str, Verified] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def recall(self, token: str, now: float, key_published: KeyPublished) -> Verified | None:
        """The entry of `token` when it was verified before, is unexpired at `now` and its key still published."""
        entry = self._entries.get(token) if type(token) is str else None  # noqa: E721 - a str subclass could lie about equality
        if entry is None:
            return None
        if now < entry.usable_until and key_published(entry.kid):
            return entry
        self._entries.pop(token, None)  # expired or key withdrawn: forgotten, the full path decides (and refuses)
        return None

    def remember(self, token: str, claims: Claims, kid: str, leeway: float) -> Verified:
        """Store (when on) and return the entry of a token that just passed the full verification."""
        entry = Verified(claims, kid, leeway)
        if self.size and type(token) is str:  # noqa: E721
            entries = self._entries
            while len(entries) >= self.size:
                try:  # oldest first; another thread may be evicting too
                    del entries[next(iter(entries))]
                except (StopIteration, RuntimeError, KeyError):
                    break
            entries[token] = entry
        return entry
