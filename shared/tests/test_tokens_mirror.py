"""The deny-list mirror, against the real Redis: `deny()` writes and announces, mirrors follow.

Every mirror here has its own Redis client and a unique `CLIENT SETNAME`, so a test can find (and
kill) exactly its subscription; writers use separate clients, as the auth service would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any, Callable

import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from plant_shared.tokens import (
    DENY_EVENTS_CHANNEL,
    Claims,
    DenylistMirror,
    DenylistVerdict,
    SyncDenylistMirror,
    SyncTokenVerifier,
    TokenError,
    check_denylist,
    deny,
    deny_sync,
    denylist_keys,
)

VISIBLE_WITHIN = 0.1  # seconds from deny() returning to every fresh mirror refusing the token


# --- helpers ----------------------------------------------------------------------------------


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


def claims_of(payload: dict[str, Any]) -> Claims:
    return Claims(
        sub=payload["sub"],
        jti=payload["jti"],
        sid=payload.get("sid"),
        roles=tuple(payload.get("roles", ())),
        tier=payload.get("tier"),
        scope=payload.get("scope", ""),
        aud=tuple(payload["aud"]) if isinstance(payload["aud"], list) else (payload["aud"],),
        iat=payload["iat"],
        exp=payload["exp"],
    )


def jti_claims(jti: str) -> Claims:
    now = int(time.time())
    return Claims(sub=f"sub-{uuid.uuid4()}", jti=jti, sid=None, roles=(), tier=None, scope="", aud=("x",), iat=now, exp=now + 60)


async def eventually(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


def eventually_sync(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class CountingClient:
    """Wraps the Redis client handed to a verifier and records every method called through it.

    Not a mock: every call goes to the real client and the real Redis.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


async def client_names(admin: aioredis.Redis) -> list[str]:
    return [c["name"] for c in await admin.client_list()]


async def kill_subscription(admin: aioredis.Redis, name: str) -> None:
    """`CLIENT KILL TYPE pubsub`, narrowed to this mirror's connection (other clients are untouched)."""
    ids = [c["id"] for c in await admin.client_list() if c["name"] == name]
    assert len(ids) == 1, f"expected one subscription named {name}, found {len(ids)}"
    assert await admin.client_kill_filter(_id=ids[0], _type="pubsub") == 1


def mirror_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "denylist-mirror" and not task.done()]


def mirror_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "denylist-mirror"]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def admin(kit) -> Any:
    """A separate client: writes (plain SET or deny()), CLIENT LIST/KILL; deletes what tests wrote."""
    client = aioredis.from_url(kit.REDIS_URL, socket_timeout=2.0, decode_responses=False)
    client.written = []  # type: ignore[attr-defined]
    yield client
    if client.written:  # type: ignore[attr-defined]
        await client.delete(*client.written)  # type: ignore[attr-defined]
    await client.aclose()


@pytest.fixture
async def start_mirror(kit) -> Any:
    """`await start_mirror(**options)`: a started, fresh `DenylistMirror` on its own client; stopped after the test."""
    made: list[tuple[DenylistMirror, aioredis.Redis]] = []

    async def start(*, wait: bool = True, **options: Any) -> DenylistMirror:
        client = aioredis.from_url(kit.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)
        options.setdefault("client_name", f"mirror-test-{uuid.uuid4().hex[:12]}")
        mirror = DenylistMirror(client, **options)
        made.append((mirror, client))
        if wait:
            assert await mirror.start(wait=5.0), "the mirror did not become fresh"
        else:
            await mirror.start()
        return mirror

    yield start
    for mirror, client in made:
        await mirror.stop()
        await client.aclose()


async def write(admin: Any, key: str, value: str | int | float = "1", ttl: int = 60, *, publish: bool = True) -> None:
    admin.written.append(key)
    if publish:
        await deny(admin, key, value, ttl)
    else:
        await admin.set(key, value, ex=ttl)


# --- deny() -----------------------------------------------------------------------------------


async def test_deny_sets_the_key_and_publishes_one_event(admin) -> None:
    key = f"deny:jti:{uuid.uuid4()}"
    listener = admin.pubsub()
    await listener.subscribe(DENY_EVENTS_CHANNEL)
    assert (await listener.get_message(timeout=1.0))["type"] == "subscribe"
    try:
        receivers = await deny(admin, key, "1", 60)
        admin.written.append(key)
        message = await listener.get_message(timeout=1.0)
    finally:
        await listener.aclose()

    event = json.loads(message["data"])
    assert receivers >= 1
    assert set(event) == {"key", "value", "expires_at"}
    assert event["key"] == key and event["value"] == "1"
    assert abs(event["expires_at"] - (time.time() + 60)) < 2
    assert await admin.get(key) == b"1" and 58 <= await admin.ttl(key) <= 60


def test_deny_sync_writes_the_same_entry(kit) -> None:
    client = redis.Redis.from_url(kit.REDIS_URL)
    key = f"deny:sub:{uuid.uuid4()}"
    try:
        deny_sync(client, key, 1700000000, 30)
        assert client.get(key) == b"1700000000" and 28 <= client.ttl(key) <= 30
    finally:
        client.delete(key)
        client.close()


@pytest.mark.parametrize(
    "key, value, ttl",
    [
        ("jti:x", "1", 60),
        ("deny:events", "1", 60),
        ("deny:jti:x", "1", 0),
        ("deny:jti:x", "1", 1.5),
        ("deny:jti:x", True, 60),
        ("deny:jti:x", b"1", 60),
    ],
    ids=["not-a-deny-key", "the-channel", "no-ttl", "float-ttl", "bool-value", "bytes-value"],
)
async def test_deny_refuses_bad_arguments_before_writing(admin, key, value, ttl) -> None:
    with pytest.raises((ValueError, TypeError)):
        await deny(admin, key, value, ttl)


# --- the async mirror -------------------------------------------------------------------------


async def test_a_deny_reaches_another_clients_mirror_within_100_ms(key, admin, start_mirror, make_verifier) -> None:
    mirror = await start_mirror()
    verifier = make_verifier(denylist_mirror=mirror)
    claims = key.claims()
    token = key.mint(claims)
    await verifier.verify(token)

    await write(admin, f"deny:sid:{claims['sid']}")  # through the writer's own client
    written = time.perf_counter()
    seen = await eventually(lambda: mirror.check(claims_of(claims)) is DenylistVerdict.REVOKED, 1.0)
    elapsed = time.perf_counter() - written

    assert seen and elapsed < VISIBLE_WITHIN, f"seen={seen} after {elapsed * 1000:.1f} ms"
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked"


async def test_the_snapshot_loads_keys_written_before_the_start(key, admin, start_mirror, make_verifier, redis_client) -> None:
    jti_claims_, sid_claims, sub_claims, clean = key.claims(), key.claims(), key.claims(), key.claims()
    await write(admin, f"deny:jti:{jti_claims_['jti']}", publish=False)  # plain SET: no event
    await write(admin, f"deny:sid:{sid_claims['sid']}", publish=False)
    await write(admin, f"deny:sub:{sub_claims['sub']}", sub_claims["iat"], publish=False)

    mirror = await start_mirror()
    counting = CountingClient(redis_client)
    verifier = make_verifier(denylist_redis=counting, denylist_mirror=mirror)

    for revoked in (jti_claims_, sid_claims, sub_claims):
        with pytest.raises(TokenError) as caught:
            await verifier.verify(key.mint(revoked))
        assert caught.value.code == "token_revoked"
    assert (await verifier.verify(key.mint(clean))).sub == clean["sub"]
    assert counting.calls == []  # all answered from memory


async def test_expired_entries_stop_denying(admin, start_mirror) -> None:
    snapshot_jti, event_jti = str(uuid.uuid4()), str(uuid.uuid4())
    admin.written.append(f"deny:jti:{snapshot_jti}")
    await admin.set(f"deny:jti:{snapshot_jti}", "1", px=400)  # loaded by the snapshot, with its PTTL
    mirror = await start_mirror(heartbeat_interval=0.05, max_silence=1.0)  # purges on every 50 ms tick
    await write(admin, f"deny:jti:{event_jti}", ttl=1)  # applied from the event, with its expires_at
    written = time.monotonic()
    assert await eventually(lambda: mirror.check(jti_claims(event_jti)) is DenylistVerdict.REVOKED, 1.0)
    assert mirror.check(jti_claims(snapshot_jti)) is DenylistVerdict.REVOKED

    assert await eventually(lambda: mirror.check(jti_claims(snapshot_jti)) is DenylistVerdict.ALLOWED, 2.0)
    assert await eventually(lambda: mirror.check(jti_claims(event_jti)) is DenylistVerdict.ALLOWED, 2.5)
    assert time.monotonic() - written > 0.8  # not before its time
    # and they are dropped from memory, as Redis drops them
    assert await eventually(lambda: f"deny:jti:{event_jti}" not in mirror._entries.values, 1.0)
    assert f"deny:jti:{snapshot_jti}" not in mirror._entries.values


SUB_CASES = {
    "cutoff-at-iat": lambda iat: iat,
    "cutoff-after-iat": lambda iat: iat + 1,
    "cutoff-an-hour-after": lambda iat: iat + 3600,
    "cutoff-before-iat": lambda iat: iat - 60,
    "fractional-before": lambda iat: f"{iat - 0.5}",
    "fractional-at": lambda iat: f"{iat}.0",
    "unreadable": lambda iat: "yesterday",
}


@pytest.mark.parametrize("path", ["event", "snapshot"])
async def test_subject_cutoffs_judge_exactly_as_the_mget_path(key, admin, start_mirror, make_verifier, redis_client, path) -> None:
    cases = {name: key.claims() for name in SUB_CASES}
    if path == "snapshot":
        for name, payload in cases.items():
            await write(admin, f"deny:sub:{payload['sub']}", SUB_CASES[name](payload["iat"]), publish=False)
        mirror = await start_mirror()
    else:
        mirror = await start_mirror()
        for name, payload in cases.items():
            await write(admin, f"deny:sub:{payload['sub']}", SUB_CASES[name](payload["iat"]))
        sentinel = str(uuid.uuid4())  # events arrive in order: once this one is in, all are
        await write(admin, f"deny:jti:{sentinel}")
        assert await eventually(lambda: mirror.check(jti_claims(sentinel)) is DenylistVerdict.REVOKED, 1.0)
    with_mirror = make_verifier(denylist_mirror=mirror)
    with_mget = make_verifier()

    for name, payload in cases.items():
        claims = claims_of(payload)
        try:
            check_denylist(claims, await redis_client.mget(denylist_keys(claims)))
            expected = DenylistVerdict.ALLOWED
        except TokenError:
            expected = DenylistVerdict.REVOKED
        assert mirror.check(claims) is expected, name
        token = key.mint(payload)
        outcomes = []
        for verifier in (with_mirror, with_mget):
            try:
                outcomes.append((await verifier.verify(token)).sub)
            except TokenError as exc:
                outcomes.append(exc.code)
        assert outcomes[0] == outcomes[1], name
    assert [mirror.check(claims_of(cases[n])) for n in ("cutoff-before-iat", "fractional-before")] == [DenylistVerdict.ALLOWED] * 2
    assert mirror.check(claims_of(cases["unreadable"])) is DenylistVerdict.REVOKED


async def test_a_fresh_mirror_makes_verification_send_no_redis_command(key, kit, admin, start_mirror, make_verifier) -> None:
    name = f"verifier-{uuid.uuid4().hex[:12]}"
    verifier_client = aioredis.from_url(kit.REDIS_URL, socket_timeout=1.0, client_name=name)
    counting = CountingClient(verifier_client)
    mirror = await start_mirror()
    verifier = make_verifier(denylist_redis=counting, denylist_mirror=mirror)
    fallbacks = metric("denylist_mirror_fallbacks_total")
    try:
        reused = key.mint()
        for _ in range(100):
            await verifier.verify(key.mint())  # a new token each time
            await verifier.verify(reused)

        assert counting.calls == []
        assert name not in await client_names(admin)  # the verifier's client never even connected
        assert metric("denylist_mirror_fallbacks_total") == fallbacks

        await mirror.stop()  # the control: without a fresh mirror, the same verifier reads Redis
        await verifier.verify(reused)
        assert counting.calls == ["mget"]
        assert name in await client_names(admin)
        assert metric("denylist_mirror_fallbacks_total") == fallbacks + 1
    finally:
        await verifier_client.aclose()


async def test_a_dropped_subscription_falls_back_to_mget_then_recovers(key, admin, start_mirror, make_verifier, redis_client) -> None:
    mirror = await start_mirror(reconnect_delay=(1.0, 1.0))  # reconnects 0.5-1 s after a drop
    counting = CountingClient(redis_client)
    verifier = make_verifier(denylist_redis=counting, denylist_mirror=mirror)
    claims = key.claims()
    token = key.mint(claims)
    await verifier.verify(token)
    assert counting.calls == [] and metric("denylist_mirror_fresh") == 1
    fallbacks = metric("denylist_mirror_fallbacks_total")

    await kill_subscription(admin, mirror.client_name)
    assert await eventually(lambda: not mirror.fresh, 1.0)
    await write(admin, f"deny:jti:{claims['jti']}", publish=False)  # a revocation the mirror cannot see

    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked"
    assert not mirror.fresh  # it was the MGET that refused it
    assert counting.calls == ["mget"]
    assert metric("denylist_mirror_fallbacks_total") == fallbacks + 1
    assert metric("denylist_mirror_fresh") == 0

    assert await mirror.wait_fresh(5.0)
    assert mirror.sessions == 2 and metric("denylist_mirror_fresh") == 1
    counting.calls.clear()
    with pytest.raises(TokenError):
        await verifier.verify(token)  # the new snapshot has the key: refused from memory
    assert counting.calls == []


async def test_a_stale_mirror_with_redis_down_still_refuses_what_it_knows(key, admin, start_mirror, make_verifier, dead_redis) -> None:
    mirror = await start_mirror(reconnect_delay=(2.0, 2.0))
    revoked, other = key.claims(), key.claims()
    await write(admin, f"deny:jti:{revoked['jti']}")
    assert await eventually(lambda: mirror.check(claims_of(revoked)) is DenylistVerdict.REVOKED, 1.0)
    await kill_subscription(admin, mirror.client_name)
    assert await eventually(lambda: not mirror.fresh, 1.0)
    verifier = make_verifier(denylist_redis=dead_redis, denylist_mirror=mirror, denylist_failure="open")

    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint(revoked))
    assert caught.value.code == "token_revoked"  # from the mirror's entries
    assert (await verifier.verify(key.mint(other))).sub  # unknown to it: Redis down, policy open


async def test_events_written_during_the_snapshot_are_not_lost(admin, start_mirror) -> None:
    tag = uuid.uuid4().hex
    pre = [f"deny:jti:{tag}-pre-{i}" for i in range(2000)]
    async with admin.pipeline(transaction=False) as pipe:
        for name in pre:
            pipe.set(name, "1", ex=60)
        await pipe.execute()
    admin.written.extend(pre)
    sub_key = f"deny:sub:{tag}"
    live: list[str] = []

    async def writer() -> None:
        for i in range(200):
            name = f"deny:jti:{tag}-live-{i}"
            live.append(name)
            await write(admin, name)
            await write(admin, sub_key, 1_000_000 + i)  # a cut-off that keeps moving
            if i % 10 == 0:
                await asyncio.sleep(0)

    mirror_started = asyncio.create_task(start_mirror(wait=False, scan_count=50))  # ~40+ batches
    await asyncio.gather(writer(), mirror_started)
    mirror = mirror_started.result()
    assert await mirror.wait_fresh(5.0)
    sentinel = f"{tag}-sentinel"
    await write(admin, f"deny:jti:{sentinel}")
    assert await eventually(lambda: mirror.check(jti_claims(sentinel)) is DenylistVerdict.REVOKED, 1.0)

    missing = [name for name in pre + live if mirror.check(jti_claims(name.removeprefix("deny:jti:"))) is not DenylistVerdict.REVOKED]
    assert missing == []
    assert mirror._entries.get(sub_key, time.time()) in ("1000199", b"1000199")  # the newest cut-off


async def test_an_event_newer_than_the_snapshot_value_wins() -> None:
    # Pure rule (no I/O): the snapshot read the old cut-off after the newer event arrived.
    mirror = DenylistMirror(aioredis.Redis())
    snapshot = mirror._begin_snapshot()
    event = {"key": "deny:sub:u", "value": "200", "expires_at": time.time() + 60}
    mirror._on_reply([b"message", DENY_EVENTS_CHANNEL.encode(), json.dumps(event).encode()])
    mirror._load_batch(snapshot, [b"deny:sub:u", b"deny:jti:gone"], [b"100", None], [60_000, -2])
    mirror._finish_snapshot(snapshot, connected=True)

    assert mirror._entries.get("deny:sub:u", time.time()) == "200"
    assert "deny:jti:gone" not in mirror._entries.values
    mirror._set_fresh(False)


async def test_a_malformed_event_forces_a_new_snapshot(admin, start_mirror) -> None:
    mirror = await start_mirror(reconnect_delay=(0.05, 0.05))
    malformed = metric("denylist_mirror_events_total", outcome="malformed")

    await admin.publish(DENY_EVENTS_CHANNEL, b"{not json")

    assert await eventually(lambda: mirror.sessions == 2 and mirror.fresh, 3.0)
    assert metric("denylist_mirror_events_total", outcome="malformed") == malformed + 1


async def test_a_silent_subscription_is_not_fresh(start_mirror) -> None:
    mirror = await start_mirror()
    mirror._last_heard -= mirror.max_silence  # as if nothing had come back for max_silence seconds

    assert not mirror.fresh
    assert mirror.check(jti_claims(str(uuid.uuid4()))) is DenylistVerdict.UNKNOWN


async def test_without_redis_the_mirror_stays_unfresh_and_stops_cleanly(kit, make_verifier, dead_redis, key) -> None:
    mirror = DenylistMirror(dead_redis, reconnect_delay=(0.05, 0.2))
    await mirror.start()
    await asyncio.sleep(0.3)  # a few failed attempts
    verifier = make_verifier(denylist_redis=dead_redis, denylist_mirror=mirror)

    assert not mirror.fresh and mirror.running
    with pytest.raises(TokenError) as caught:
        await verifier.verify(key.mint())
    assert caught.value.code == "auth_unavailable"  # fail closed, as without a mirror

    await mirror.stop()
    assert mirror_tasks() == []


async def test_stop_leaves_no_task_and_no_connection(admin, start_mirror) -> None:
    mirror = await start_mirror()
    assert len(mirror_tasks()) == 1 and mirror.client_name in await client_names(admin)

    await mirror.stop()

    assert mirror_tasks() == [] and not mirror.running and not mirror.fresh
    assert await gone_from_client_list(admin, mirror.client_name)
    await mirror.stop()  # idempotent


async def gone_from_client_list(admin: aioredis.Redis, name: str) -> bool:
    deadline = time.monotonic() + 1.0
    while name in await client_names(admin):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_the_verifier_falls_back_through_the_mirrors_client_and_checks_the_mirror_type(key, start_mirror, make_verifier) -> None:
    mirror = await start_mirror()
    verifier = make_verifier(denylist_redis=None, denylist_mirror=mirror)
    assert verifier._redis is mirror.redis
    assert (await verifier.verify(key.mint())).sub
    with pytest.raises(TypeError):
        make_verifier(denylist_mirror=SyncDenylistMirror(redis.Redis()))


# --- the sync mirror (Django) -----------------------------------------------------------------


@pytest.fixture
def sync_admin(kit) -> Any:
    client = redis.Redis.from_url(kit.REDIS_URL, socket_timeout=2.0)
    client.written = []  # type: ignore[attr-defined]
    yield client
    if client.written:  # type: ignore[attr-defined]
        client.delete(*client.written)  # type: ignore[attr-defined]
    client.close()


@pytest.fixture
def sync_mirror(kit) -> Any:
    made: list[tuple[SyncDenylistMirror, redis.Redis]] = []

    def start(*, start: bool = True, **options: Any) -> SyncDenylistMirror:
        client = redis.Redis.from_url(kit.REDIS_URL, socket_timeout=1.0, socket_connect_timeout=1.0)
        options.setdefault("client_name", f"sync-mirror-test-{uuid.uuid4().hex[:12]}")
        mirror = SyncDenylistMirror(client, **options)
        made.append((mirror, client))
        if start:
            assert mirror.start(wait=5.0), "the mirror did not become fresh"
        return mirror

    yield start
    for mirror, client in made:
        mirror.stop()
        client.close()


@pytest.fixture
def make_sync_verifier(key, kit) -> Callable[..., SyncTokenVerifier]:
    import httpx

    body = json.dumps({"keys": [key.jwk]}).encode()

    def make(**options: Any) -> SyncTokenVerifier:
        settings = {
            "jwks_url": kit.JWKS_URL,
            "issuer": kit.ISSUER,
            "audience": "cms",
            "http_client": httpx.Client(transport=httpx.MockTransport(lambda _request: httpx.Response(200, content=body))),
            "denylist_redis": None,
        }
        return SyncTokenVerifier(**(settings | options))

    return make


def sync_client_names(client: redis.Redis) -> list[str]:
    return [c["name"] for c in client.client_list()]


def test_sync_a_deny_reaches_the_thread_mirror_within_100_ms(key, sync_admin, sync_mirror, make_sync_verifier) -> None:
    mirror = sync_mirror()
    verifier = make_sync_verifier(denylist_mirror=mirror)
    claims = key.claims()
    token = key.mint(claims)
    verifier.verify(token)

    sync_admin.written.append(f"deny:jti:{claims['jti']}")
    deny_sync(sync_admin, f"deny:jti:{claims['jti']}", "1", 60)
    written = time.perf_counter()
    seen = eventually_sync(lambda: mirror.check(claims_of(claims)) is DenylistVerdict.REVOKED, 1.0)
    elapsed = time.perf_counter() - written

    assert seen and elapsed < VISIBLE_WITHIN, f"seen={seen} after {elapsed * 1000:.1f} ms"
    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    assert caught.value.code == "token_revoked"


def test_sync_snapshot_and_zero_redis_commands_per_verify(key, kit, sync_admin, sync_mirror, make_sync_verifier) -> None:
    revoked = key.claims()
    sync_admin.written.append(f"deny:sub:{revoked['sub']}")
    sync_admin.set(f"deny:sub:{revoked['sub']}", revoked["iat"], ex=60)  # before the start: via the snapshot
    name = f"sync-verifier-{uuid.uuid4().hex[:12]}"
    verifier_client = redis.Redis.from_url(kit.REDIS_URL, socket_timeout=1.0, client_name=name)
    counting = CountingClient(verifier_client)
    mirror = sync_mirror()
    verifier = make_sync_verifier(denylist_redis=counting, denylist_mirror=mirror)
    try:
        with pytest.raises(TokenError) as caught:
            verifier.verify(key.mint(revoked))
        assert caught.value.code == "token_revoked"
        reused = key.mint()
        for _ in range(100):
            verifier.verify(key.mint())
            verifier.verify(reused)

        assert counting.calls == []
        assert name not in sync_client_names(sync_admin)

        mirror.stop()
        verifier.verify(reused)
        assert counting.calls == ["mget"] and name in sync_client_names(sync_admin)
    finally:
        verifier_client.close()


def test_sync_a_dropped_subscription_falls_back_to_mget_then_recovers(key, kit, sync_admin, sync_mirror, make_sync_verifier) -> None:
    mirror = sync_mirror(reconnect_delay=(1.0, 1.0))
    counting = CountingClient(redis.Redis.from_url(kit.REDIS_URL, socket_timeout=1.0))
    verifier = make_sync_verifier(denylist_redis=counting, denylist_mirror=mirror)
    claims = key.claims()
    token = key.mint(claims)
    verifier.verify(token)
    assert counting.calls == []

    ids = [c["id"] for c in sync_admin.client_list() if c["name"] == mirror.client_name]
    assert len(ids) == 1 and sync_admin.client_kill_filter(_id=ids[0], _type="pubsub") == 1
    assert eventually_sync(lambda: not mirror.fresh, 1.0)
    sync_admin.written.append(f"deny:jti:{claims['jti']}")
    sync_admin.set(f"deny:jti:{claims['jti']}", "1", ex=60)  # no event

    with pytest.raises(TokenError) as caught:
        verifier.verify(token)
    assert caught.value.code == "token_revoked" and not mirror.fresh and counting.calls == ["mget"]

    assert mirror.wait_fresh(5.0) and mirror.sessions == 2
    counting.calls.clear()
    with pytest.raises(TokenError):
        verifier.verify(token)
    assert counting.calls == []
    counting.inner.close()


def test_sync_autostart_on_first_check_and_stop_leaves_no_thread(key, sync_admin, sync_mirror, make_sync_verifier) -> None:
    mirror = sync_mirror(start=False, autostart=True)
    verifier = make_sync_verifier(denylist_mirror=mirror)
    assert not mirror.running and mirror_threads() == []

    verifier.verify(key.mint())  # the first check starts the thread (and falls back to MGET meanwhile)

    assert mirror.running and len(mirror_threads()) == 1
    assert mirror.wait_fresh(5.0)
    assert mirror.client_name in sync_client_names(sync_admin)

    mirror.stop()

    assert mirror_threads() == [] and not mirror.running and not mirror.fresh
    assert eventually_sync(lambda: mirror.client_name not in sync_client_names(sync_admin), 1.0)
    verifier.verify(key.mint())  # stopped: no autostart any more, MGET instead
    assert not mirror.running


def test_sync_the_verifier_needs_a_sync_mirror(make_sync_verifier) -> None:
    with pytest.raises(TypeError):
        make_sync_verifier(denylist_mirror=DenylistMirror(aioredis.Redis()))


async def test_async_and_sync_mirrors_agree(key, admin, start_mirror, sync_mirror) -> None:
    async_mirror = await start_mirror()
    thread_mirror = await asyncio.to_thread(sync_mirror)
    payloads = [key.claims() for _ in range(4)]
    await write(admin, f"deny:jti:{payloads[0]['jti']}")
    await write(admin, f"deny:sid:{payloads[1]['sid']}")
    await write(admin, f"deny:sub:{payloads[2]['sub']}", payloads[2]["iat"] - 1)  # before iat: not revoked
    sentinel = str(uuid.uuid4())
    await write(admin, f"deny:jti:{sentinel}")
    mirrors = (async_mirror, thread_mirror)
    assert await eventually(lambda: all(m.check(jti_claims(sentinel)) is DenylistVerdict.REVOKED for m in mirrors), 1.0)

    verdicts = [(async_mirror.check(claims_of(p)), thread_mirror.check(claims_of(p))) for p in payloads]

    revoked, allowed = (DenylistVerdict.REVOKED,) * 2, (DenylistVerdict.ALLOWED,) * 2
    assert verdicts == [revoked, revoked, allowed, allowed]



# --- a whole Redis restart (a private, real redis-server) -------------------------------------


def redis_server_binary() -> str | None:
    import shutil
    import sys
    from pathlib import Path

    beside_python = Path(sys.executable).with_name("redis-server")
    return str(beside_python) if beside_python.exists() else shutil.which("redis-server")


async def start_redis_server(port: int) -> Any:
    process = await asyncio.create_subprocess_exec(
        redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    probe = aioredis.Redis(port=port, socket_connect_timeout=0.2)
    try:
        for _ in range(200):
            try:
                await probe.ping()
                return process
            except (OSError, redis.RedisError):
                await asyncio.sleep(0.02)
    finally:
        await probe.aclose()
    process.kill()
    raise RuntimeError("the private redis-server did not start")


@pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server binary")
async def test_a_redis_restart_fails_closed_meanwhile_then_the_mirror_recovers(key, kit, make_verifier) -> None:
    port = kit.unused_port()
    server = await start_redis_server(port)
    # configured as the verifier recommends: one immediate retry, so an outage answers fast
    client = aioredis.Redis(port=port, db=4, socket_timeout=0.5, socket_connect_timeout=0.5, retry=AsyncRetry(NoBackoff(), 1))
    mirror = DenylistMirror(client, reconnect_delay=(0.05, 0.2))
    verifier = make_verifier(denylist_redis=client, denylist_mirror=mirror)
    try:
        assert await mirror.start(wait=5.0)
        claims = key.claims()
        await deny(client, f"deny:jti:{claims['jti']}", "1", 60)
        assert await eventually(lambda: mirror.check(claims_of(claims)) is DenylistVerdict.REVOKED, 1.0)

        server.terminate()
        await server.wait()
        assert await eventually(lambda: not mirror.fresh, 1.0)
        with pytest.raises(TokenError) as caught:
            await verifier.verify(key.mint())  # unknown to the mirror, Redis down: fail closed
        assert caught.value.code == "auth_unavailable"
        with pytest.raises(TokenError) as caught:
            await verifier.verify(key.mint(claims))  # known revoked: still refused, from memory
        assert caught.value.code == "token_revoked"

        server = await start_redis_server(port)  # back, empty (no persistence here)
        assert await mirror.wait_fresh(5.0)
        assert mirror.check(claims_of(claims)) is DenylistVerdict.ALLOWED  # as Redis: the key is gone
        assert (await verifier.verify(key.mint())).sub
    finally:
        await mirror.stop()
        await client.aclose()
        if server.returncode is None:
            server.terminate()
            await server.wait()


async def test_stopping_survives_a_lost_cancellation(redis_client: aioredis.Redis) -> None:
    # Python 3.11's asyncio.wait_for (inside redis-py) can swallow the one cancellation `stop()` sends.
    class Stubborn(DenylistMirror):
        async def _run(self) -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # lost, as wait_for may lose it
            await asyncio.sleep(3600)

    mirror = Stubborn(redis_client)
    await mirror.start()
    await asyncio.sleep(0)

    await asyncio.wait_for(mirror.stop(), 2.0)

    assert not mirror.running and not mirror.fresh


# --- settled(): the no-await path the FastAPI dependency tries first --------------------------


async def test_settled_answers_a_remembered_token_from_memory_and_only_then(key, admin, start_mirror, make_verifier, redis_client) -> None:
    mirror = await start_mirror(reconnect_delay=(1.0, 1.0))
    counting = CountingClient(redis_client)
    verifier = make_verifier(denylist_redis=counting, denylist_mirror=mirror)
    claims = key.claims()
    token = key.mint(claims)

    assert verifier.settled(token) is None  # never verified: the signature must be checked first
    verified = await verifier.verify(token)
    assert verifier.settled(token) is verified
    assert verifier.settled(token + "A") is None and verifier.settled(" " + token) is None  # only the exact text

    await write(admin, f"deny:sid:{claims['sid']}")
    assert await eventually(lambda: mirror.check(claims_of(claims)) is DenylistVerdict.REVOKED, 1.0)
    assert verifier.settled(token) is None  # an entry matches: `verify` judges it
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_revoked"
    assert counting.calls == []  # refused from the mirror's entries, no Redis read


async def test_settled_leaves_it_to_verify_when_redis_must_be_read(key, admin, start_mirror, make_verifier, redis_client) -> None:
    mirror = await start_mirror(reconnect_delay=(5.0, 5.0))
    with_mirror = make_verifier(denylist_mirror=mirror)
    mget_only = make_verifier()  # no mirror: every verification reads the deny-list
    claims = key.claims()
    token = key.mint(claims)
    await with_mirror.verify(token)
    await mget_only.verify(token)

    assert mget_only.settled(token) is None
    await kill_subscription(admin, mirror.client_name)
    assert await eventually(lambda: not mirror.fresh, 1.0)
    await write(admin, f"deny:jti:{claims['jti']}", publish=False)  # only the MGET can see it

    assert with_mirror.settled(token) is None  # the mirror is not fresh: not settled from memory
    for verifier in (with_mirror, mget_only):
        with pytest.raises(TokenError) as caught:
            await verifier.verify(token)
        assert caught.value.code == "token_revoked"


async def test_an_expired_remembered_token_is_not_settled_and_verify_refuses_it(key, make_verifier) -> None:
    verifier = make_verifier(denylist_redis=None, leeway=0)  # no deny-list at all: memory settles
    now = int(time.time())
    token = key.mint(iat=now - 60, nbf=now - 60, exp=now + 1)
    claims = await verifier.verify(token)
    assert verifier.settled(token) is claims

    await asyncio.sleep(now + 1.05 - time.time())

    assert verifier.settled(token) is None
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "token_expired"


async def test_verifications_are_counted_by_outcome_from_every_thread(key, make_verifier, start_mirror) -> None:
    verifier = make_verifier(denylist_mirror=await start_mirror())
    token = key.mint()
    ok, invalid = metric("token_verifications_total", outcome="ok"), metric("token_verifications_total", outcome="token_invalid")

    await verifier.verify(token)  # verified
    verifier.settled(token)  # settled from memory
    with pytest.raises(TokenError):
        await verifier.verify(token[:-4])
    threads = [threading.Thread(target=lambda: [verifier.settled(token) for _ in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert metric("token_verifications_total", outcome="ok") == ok + 2 + 4000
    assert metric("token_verifications_total", outcome="token_invalid") == invalid + 1


async def test_clears_is_true_only_when_check_allows_without_any_entry(key, admin, start_mirror) -> None:
    mirror = await start_mirror(reconnect_delay=(5.0, 5.0))
    clean, revoked, cut_before = key.claims(), key.claims(), key.claims()
    await write(admin, f"deny:jti:{revoked['jti']}")
    await write(admin, f"deny:sub:{cut_before['sub']}", cut_before["iat"] - 60)  # a cut-off older than the token
    assert await eventually(lambda: len(mirror) >= 2, 1.0)

    def both(payload: dict[str, Any]) -> tuple[bool, DenylistVerdict]:
        claims = claims_of(payload)
        return mirror.clears(denylist_keys(claims)), mirror.check(claims)

    assert both(clean) == (True, DenylistVerdict.ALLOWED)
    assert both(revoked) == (False, DenylistVerdict.REVOKED)
    assert both(cut_before) == (False, DenylistVerdict.ALLOWED)  # an entry matches: `check` judges it
    await kill_subscription(admin, mirror.client_name)
    assert await eventually(lambda: not mirror.fresh, 1.0)
    assert both(clean) == (False, DenylistVerdict.UNKNOWN)
