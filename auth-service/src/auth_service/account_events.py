"""Account events on the Redis stream `events:accounts` (deny-list Redis), read by the other services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from auth_service.token_contract import ACCOUNT_EVENTS_STREAM

# Consumers read with their own group and acknowledge; this only bounds memory if one stalls.
STREAM_MAX_LENGTH = 100_000


async def publish_user_deleted(redis: Redis, user_id: uuid.UUID) -> str:
    """Announce that the account is gone, so others erase what they hold for it.

    Returns:
        The stream entry id.

    Raises:
        redis.RedisError: Redis is away; the caller must not report the deletion as done.
    """
    fields: dict[FieldT, EncodableT] = {"event": "user.deleted", "user_id": str(user_id), "occurred_at": datetime.now(UTC).isoformat()}
    entry_id = await redis.xadd(ACCOUNT_EVENTS_STREAM, fields, maxlen=STREAM_MAX_LENGTH, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
