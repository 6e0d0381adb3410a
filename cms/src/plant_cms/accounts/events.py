"""Account events from the auth service (`events:accounts`, deny-list Redis): the CMS's consumer.

`{"event": "user.deleted", "user_id": <uuid>}` erases the member's garden and deactivates their
editor user, if any. The consumer group (`cms`) gives at-least-once delivery: an entry is
acknowledged only after its erasure committed, so a crash or a database outage means it is read
again (its own pending entries first, then entries another consumer left pending too long), and
erasing twice is harmless. Unknown events and malformed ids are logged and acknowledged: a poison
entry must not block the stream.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis
from django.db import close_old_connections, connection

from plant_cms.accounts.backends import forget_editor
from plant_cms.garden.erase import erase_member

log = logging.getLogger("plant_cms.accounts.events")

USER_DELETED = "user.deleted"


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return None
    return value


@dataclass
class ConsumerStats:
    handled: int = 0
    erased: int = 0
    ignored: int = 0
    failed: int = 0


class AccountEventConsumer:
    """Reads `stream` as member `consumer` of `group` and erases deleted accounts' data.

    Args:
        client: a sync Redis client on the deny-list database; its `socket_timeout` must exceed
            `block_ms`.
        stream, group, consumer: the stream key, the consumer group and this consumer's name.
        block_ms: how long one read waits for new entries.
        batch: entries per read.
        claim_idle_ms: entries pending longer than this at another (dead) consumer are taken over.
        handle_deleted: what a deletion does (the erasure; replaceable in tests).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str,
        group: str,
        consumer: str,
        block_ms: int = 5_000,
        batch: int = 100,
        claim_idle_ms: int = 60_000,
        handle_deleted: Callable[[uuid.UUID], None] | None = None,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.block_ms = block_ms
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.handle_deleted = handle_deleted or erase_account
        self.stats = ConsumerStats()

    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing, reading from the stream's beginning, so
        deletions published before the CMS first ran are not missed."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def poll(self, *, block: bool = True) -> int:
        """One round: own pending entries, stale entries of others, then new ones.

        Returns:
            Entries acknowledged in this round.

        Raises:
            redis.RedisError: Redis is away (the caller backs off).
        """
        if not connection.in_atomic_block:
            close_old_connections()  # a long-running process: drop connections the database closed
        done = self._process(self._read("0"))
        done += self._process(self._claim())
        done += self._process(self._read(">", block=block))
        return done

    def _read(self, start: str, *, block: bool = False) -> list[tuple[bytes, Mapping[bytes, bytes] | None]]:
        reply = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=self.batch, block=self.block_ms if block else None
        )
        entries: list[tuple[bytes, Mapping[bytes, bytes] | None]] = []
        for _stream, items in reply or []:
            entries.extend(items)
        return entries

    def _claim(self) -> list[tuple[bytes, Mapping[bytes, bytes] | None]]:
        reply = self.client.xautoclaim(self.stream, self.group, self.consumer, min_idle_time=self.claim_idle_ms, start_id="0-0", count=self.batch)
        return list(reply[1])

    def _process(self, entries: list[tuple[bytes, Mapping[bytes, bytes] | None]]) -> int:
        acked = 0
        for entry_id, fields in entries:
            try:
                if fields is not None:  # None: trimmed from the stream while pending; nothing to do
                    self._handle(fields)
            except Exception:  # noqa: BLE001 - left pending: read again next round
                self.stats.failed += 1
                log.exception("account event not processed; it stays pending", extra={"entry": _text(entry_id)})
                break  # keep stream order: stop this round, retry from here
            self.client.xack(self.stream, self.group, entry_id)
            self.stats.handled += 1
            acked += 1
        return acked

    def _handle(self, fields: Mapping[bytes, bytes]) -> None:
        data = {_text(k): _text(v) for k, v in fields.items()}
        if data.get("event") != USER_DELETED:
            self.stats.ignored += 1
            return
        try:
            user_id = uuid.UUID(str(data.get("user_id")))
        except ValueError:
            self.stats.ignored += 1
            log.error("user.deleted event without a valid user_id; acknowledged and ignored")
            return
        self.handle_deleted(user_id)
        self.stats.erased += 1
        log.info("account deleted: garden erased", extra={"user_id": str(user_id)})


def erase_account(user_id: uuid.UUID) -> None:
    """Everything the CMS holds for a deleted account: garden rows and photos, editor user."""
    erase_member(user_id)
    forget_editor(str(user_id))
