"""Writing the deny-list (Redis database 4) that every verifier reads, per the token contract.

Every entry goes through `plant_shared.tokens.deny()`: `SET key value EX ttl` and `PUBLISH
deny:events` in one `MULTI`/`EXEC`, so the verifiers' deny-list mirrors see a revocation at once
(a bare `SET` would reach them only at their next snapshot).

Read-your-writes in this process: when the auth service's own mirror is fresh, each write waits
(briefly, bounded) until that mirror has applied its event, so a request that follows a logout on
this process is refused. Other processes have the contract's ~1 ms window.

Redis down: every call raises `RedisError`, which the app answers with 503. Revocation fails
closed: a logout that could not be recorded is reported as failed, never as done.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from plant_shared.tokens import Claims, DenylistMirror, DenylistVerdict, deny
from redis.asyncio import Redis

from auth_service.token_contract import LEEWAY_SECONDS, deny_jti_key, deny_sid_key, deny_sub_key

log = logging.getLogger(__name__)

# How long a write waits for this process's own (fresh) mirror to apply its event. The event is
# on the wire before `EXEC` answers, so this is normally a loop iteration or two.
MIRROR_SETTLE_SECONDS = 0.1
_NEVER_CUT_OFF = 2**62  # an `iat` no `deny:sub` cut-off reaches: a probe that only tests one key


def _probe(*, sub: str | None = None, jti: str | None = None, sid: str | None = None, iat: int = _NEVER_CUT_OFF) -> Claims:
    """Claims matching exactly one deny-list key, to ask the mirror whether it holds that entry."""
    unused = f"probe-{uuid.uuid4()}"
    return Claims(sub=sub or unused, jti=jti or unused, sid=sid, roles=(), tier=None, scope="", aud=(), iat=iat, exp=_NEVER_CUT_OFF)


class DenyList:
    """Args:
    redis: the deny-list Redis (`AUTH_DENYLIST_REDIS_URL`).
    longest_token_seconds: the longest lifetime of any token we issue; a family's or subject's
        entry must outlive every token it could match.
    mirror: this process's `DenylistMirror` (the one its verifier reads), or None.
    """

    def __init__(self, redis: Redis, *, longest_token_seconds: int, mirror: DenylistMirror | None = None) -> None:
        self._redis = redis
        self._entry_ttl = longest_token_seconds + LEEWAY_SECONDS
        self._mirror = mirror

    async def deny_token(self, jti: str, *, expires_at: int) -> None:
        """Revoke one token until it expires (plus leeway)."""
        remaining = max(1, expires_at - int(time.time()) + LEEWAY_SECONDS)
        await self._write(deny_jti_key(jti), "1", remaining, _probe(jti=jti))

    async def deny_family(self, sid: str) -> None:
        """Revoke every access token issued from one refresh-token family."""
        await self._write(deny_sid_key(sid), str(int(time.time())), self._entry_ttl, _probe(sid=sid))

    async def deny_subject(self, sub: str) -> int:
        """Revoke every token of `sub` issued at or before now. Returns the cut-off (Unix seconds)."""
        cutoff = int(time.time())
        await self._write(deny_sub_key(sub), str(cutoff), self._entry_ttl, _probe(sub=sub, iat=cutoff))
        return cutoff

    async def issue_time(self, sub: str) -> int:
        """The `iat` for a new token of `sub`: now, or one second after its cut-off if that is later.

        Without it, a sign-in in the same second as "log out everywhere" would be born revoked.
        """
        now = int(time.time())
        cutoff = await self._redis.get(deny_sub_key(sub))
        return max(now, int(cutoff) + 1) if cutoff is not None else now

    async def _write(self, key: str, value: str, ttl: int, probe: Claims) -> None:
        await deny(self._redis, key, value, ttl)
        await self._settle(probe)

    async def _settle(self, probe: Claims) -> None:
        """Wait until this process's mirror holds the entry `probe` tests, while it is fresh.

        A mirror that is not fresh is not trusted to allow anything (the verifier reads Redis), and
        it becomes fresh again only through a snapshot taken after subscribing, which holds the key.
        """
        mirror = self._mirror
        if mirror is None:
            return
        deadline = time.monotonic() + MIRROR_SETTLE_SECONDS
        spins = 0
        while mirror.fresh and mirror.check(probe) is not DenylistVerdict.REVOKED:
            if time.monotonic() >= deadline:
                log.warning("the deny-list mirror has not applied a revocation after %s s", MIRROR_SETTLE_SECONDS)
                return
            spins += 1
            await asyncio.sleep(0 if spins <= 10 else 0.001)
