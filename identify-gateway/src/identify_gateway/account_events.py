"""Erase what the gateway holds for a deleted account: the auth service's `user.deleted` events.

The events arrive on the Redis stream `events:accounts` (the deny-list Redis). The gateway reads
them with its own consumer group, erases the user's identifications and jobs, then acknowledges:
an entry is acknowledged only after its erasure committed, and this consumer's own pending entries
(a crash between the two) are retried first, so every deletion is applied at least once — and
erasing twice is harmless.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from identify_gateway.identify.history import HistoryStore

STREAM = "events:accounts"
GROUP = "gateway"
log = logging.getLogger(__name__)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _ensure_group(redis: Redis) -> None:
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def consume_account_events(redis: Redis, history: HistoryStore, *, consumer: str, count: int = 100) -> int:
    """Apply every waiting account event; returns how many identifications were erased.

    Args:
        redis: the deny-list Redis, which carries the stream.
        history: where the user's identifications and jobs are erased.
        consumer: this consumer's name within the `gateway` group.
        count: entries read per call at most.

    Raises:
        redis.RedisError: Redis is away; nothing was acknowledged, the next run retries.
    """
    await _ensure_group(redis)
    erased = 0
    for start in ("0", ">"):  # our own unacknowledged entries first, then new ones
        for _stream, entries in await redis.xreadgroup(GROUP, consumer, {STREAM: start}, count=count) or []:
            for entry_id, raw in entries:
                fields = {_text(k): _text(v) for k, v in raw.items()}
                if fields.get("event") == "user.deleted":
                    try:
                        user_id = uuid.UUID(fields.get("user_id", ""))
                    except ValueError:
                        log.warning("account event %s has no valid user_id; acknowledged and skipped", _text(entry_id))
                    else:
                        removed = await history.delete_all(user_id)
                        erased += removed
                        log.info("erased %d identifications of a deleted account", removed, extra={"user_id": str(user_id)})
                await redis.xack(STREAM, GROUP, entry_id)
    return erased
