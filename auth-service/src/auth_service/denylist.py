"""Writing the deny-list (Redis database 4) that every verifier reads, per the token contract.

Redis down: every call raises `RedisError`, which the app answers with 503. Revocation fails
closed: a logout that could not be recorded is reported as failed, never as done.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from auth_service.token_contract import LEEWAY_SECONDS, deny_jti_key, deny_sid_key, deny_sub_key


class DenyList:
    """Args:
    redis: the deny-list Redis (`AUTH_DENYLIST_REDIS_URL`).
    longest_token_seconds: the longest lifetime of any token we issue; a family's or subject's
        entry must outlive every token it could match.
    """

    def __init__(self, redis: Redis, *, longest_token_seconds: int) -> None:
        self._redis = redis
        self._entry_ttl = longest_token_seconds + LEEWAY_SECONDS

    async def deny_token(self, jti: str, *, expires_at: int) -> None:
        """Revoke one token until it expires (plus leeway)."""
        remaining = max(1, expires_at - int(time.time()) + LEEWAY_SECONDS)
        await self._redis.set(deny_jti_key(jti), "1", ex=remaining)

    async def deny_family(self, sid: str) -> None:
        """Revoke every access token issued from one refresh-token family."""
        await self._redis.set(deny_sid_key(sid), str(int(time.time())), ex=self._entry_ttl)

    async def deny_subject(self, sub: str) -> int:
        """Revoke every token of `sub` issued at or before now. Returns the cut-off (Unix seconds)."""
        cutoff = int(time.time())
        await self._redis.set(deny_sub_key(sub), str(cutoff), ex=self._entry_ttl)
        return cutoff

    async def issue_time(self, sub: str) -> int:
        """The `iat` for a new token of `sub`: now, or one second after its cut-off if that is later.

        Without it, a sign-in in the same second as "log out everywhere" would be born revoked.
        """
        now = int(time.time())
        cutoff = await self._redis.get(deny_sub_key(sub))
        return max(now, int(cutoff) + 1) if cutoff is not None else now
