"""Long-lived clients, created once per process in the lifespan and closed at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx
from celery import Celery
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from identify_gateway import __version__
from identify_gateway.config import Settings
from identify_gateway.db import create_engine, create_sessionmaker
from identify_gateway.engines.base import ImageRejected
from identify_gateway.engines.cms import CmsClient
from identify_gateway.engines.gbif import GbifClient
from identify_gateway.engines.plant_id import PlantIdClient
from identify_gateway.engines.plantnet import PlantNetClient
from identify_gateway.identify.history import HistoryStore
from identify_gateway.identify.images import configure_pillow
from identify_gateway.identify.pipeline import EngineClient, IdentificationPipeline, PipelineConfig
from identify_gateway.identify.stats import IdentificationStats
from identify_gateway.identify.upload import ImageKind
from identify_gateway.jobs.app import create_celery
from identify_gateway.jobs.events import EventHub, JobEvents
from identify_gateway.jobs.runner import JobRunner
from identify_gateway.jobs.store import JobStore
from identify_gateway.resilience import ConcurrencyLimiter, EngineBreaker, QuotaTracker, RateLimiter, ResultCache, SingleFlight
from identify_gateway.service_tokens import ServiceTokens
from plant_shared.tokens import DenylistMirror, TokenVerifier

USER_AGENT = f"plant-community-identify-gateway/{__version__}"
PRIMARY_ENGINES = ("plant_id", "plantnet")


@dataclass(frozen=True)
class Resources:
    """What request handlers share; read it through the aliases in `deps`."""

    settings: Settings
    db_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    plant_id_http: httpx.AsyncClient
    plantnet_http: httpx.AsyncClient
    auth_http: httpx.AsyncClient  # JWKS and service tokens
    denylist_redis: Redis
    verifier: TokenVerifier
    breakers: dict[str, EngineBreaker]
    rate_limiter: RateLimiter
    concurrency: ConcurrencyLimiter
    quotas: QuotaTracker
    history: HistoryStore
    pipeline: IdentificationPipeline
    stats: IdentificationStats
    celery: Celery  # a producer: sends jobs to their lanes
    broker_redis: Redis  # the broker's database (queue depths)
    jobs: JobStore
    events: JobEvents
    hub: EventHub
    runner: JobRunner

    @property
    def accepted_kinds(self) -> frozenset[ImageKind]:
        kinds = {ImageKind.JPEG, ImageKind.PNG, ImageKind.WEBP}
        return frozenset(kinds | {ImageKind.HEIC}) if self.settings.accept_heic else frozenset(kinds)


def create_redis(settings: Settings) -> Redis:
    """One pool per process; timeouts on the socket, never by cancelling a command (redis-py CVE-2023-28858).

    A blocking pool: past `max_connections` in flight a command waits for a connection (up to the
    socket timeout) instead of failing at once, which the fail-open cache, lock and limiters would
    otherwise read as "Redis is down" under load.
    """
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        # One quick retry: a dropped connection is re-made at once, a dead Redis is reported in milliseconds.
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool and closes it


def create_denylist_redis(settings: Settings) -> Redis:
    """The auth service's deny-list database (read-only here), with the short timeouts and the one
    immediate retry the shared verifier asks for: an outage answers 503 in milliseconds."""
    pool = ConnectionPool.from_url(
        settings.denylist_redis_url, max_connections=settings.redis_max_connections,
        socket_timeout=0.25, socket_connect_timeout=0.25, retry=Retry(NoBackoff(), 1), health_check_interval=30,
    )  # fmt: skip
    return Redis.from_pool(pool)


def create_engine_client(base_url: str, *, timeout_s: float, connect_timeout_s: float) -> httpx.AsyncClient:
    """One keep-alive client per engine; credentials are added per request by the engine code."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": USER_AGENT},
    )


def create_breakers(settings: Settings, redis: Redis) -> dict[str, EngineBreaker]:
    """One breaker per engine and enrichment source; a refused image never counts as a failure."""
    prefix = f"{settings.redis_key_prefix}cb:"

    def excluded(exc: BaseException) -> bool:
        return isinstance(exc, ImageRejected)

    def breaker(name: str, fail_max: int, timeout_s: float) -> EngineBreaker:
        return EngineBreaker(
            name, redis, fail_max=fail_max, reset_timeout_s=settings.breaker_reset_timeout_s, max_concurrency=settings.engine_max_concurrency,
            excluded=excluded, probe_timeout_s=timeout_s + 5, prefix=prefix,
        )  # fmt: skip

    return {
        "plant_id": breaker("plant_id", settings.plant_id_fail_max, settings.plant_id_timeout_s),
        "plantnet": breaker("plantnet", settings.plantnet_fail_max, settings.plantnet_timeout_s),
        "gbif": breaker("gbif", settings.enrichment_fail_max, settings.gbif_timeout_s),
        "cms": breaker("cms", settings.enrichment_fail_max, settings.cms_timeout_s),
    }


def build_pipeline(
    settings: Settings,
    *,
    redis: Redis,
    history: HistoryStore,
    breakers: dict[str, EngineBreaker],
    quotas: QuotaTracker,
    plant_id_http: httpx.AsyncClient,
    plantnet_http: httpx.AsyncClient,
    gbif_http: httpx.AsyncClient | None,
    cms_http: httpx.AsyncClient | None,
    auth_http: httpx.AsyncClient,
    stats: IdentificationStats | None = None,
) -> IdentificationPipeline:
    """The pipeline from settings and already-open clients (the API lifespan and the worker's)."""
    engines: list[EngineClient] = []
    if settings.plant_id_api_key is not None:
        engines.append(PlantIdClient(
            plant_id_http, api_key=settings.plant_id_api_key.get_secret_value(), timeout_s=settings.plant_id_timeout_s,
            image_long_side=settings.plant_id_image_long_side,
        ))  # fmt: skip
    if settings.plantnet_api_key is not None:
        engines.append(PlantNetClient(
            plantnet_http, api_key=settings.plantnet_api_key.get_secret_value(), project=settings.plantnet_project,
            timeout_s=settings.plantnet_timeout_s, image_long_side=settings.plantnet_image_long_side,
        ))  # fmt: skip
    configured = {e.name for e in engines}
    cms = None
    if cms_http is not None and settings.service_client_id and settings.service_client_secret is not None:
        tokens = ServiceTokens(
            auth_http, token_url=settings.auth_token_url, client_id=settings.service_client_id,
            client_secret=settings.service_client_secret.get_secret_value(), audience="cms",
        )  # fmt: skip
        cms = CmsClient(cms_http, tokens=tokens, timeout_s=settings.cms_timeout_s)
    prefix = settings.redis_key_prefix
    return IdentificationPipeline(
        engines=engines,
        disabled=[name for name in PRIMARY_ENGINES if name not in configured],
        breakers=breakers,
        cache=ResultCache(redis, prefix=f"{prefix}cache:", default_ttl_s=max(1, settings.plant_id_cache_ttl_s), ttl_jitter=0.1),
        single_flight=SingleFlight(redis, prefix=f"{prefix}lock:", lease_ms=settings.lock_lease_ms, wait_timeout_s=settings.lock_wait_timeout_s),
        quotas=quotas,
        history=history,
        config=PipelineConfig(
            max_pixels=settings.max_image_pixels,
            cache_ttl_s={"plant_id": settings.plant_id_cache_ttl_s, "plantnet": settings.plantnet_cache_ttl_s},
            degraded_cache_ttl_s=settings.degraded_cache_ttl_s,
            enrichment_budget_s=settings.enrichment_budget_s,
        ),
        gbif=GbifClient(gbif_http, timeout_s=settings.gbif_timeout_s, ttl_s=settings.gbif_cache_ttl_s) if gbif_http is not None else None,
        cms=cms,
        decode_limiter=anyio.CapacityLimiter(settings.decode_concurrency),
        stats=stats,
    )


@asynccontextmanager
async def open_resources(settings: Settings, *, verifies_tokens: bool = True) -> AsyncIterator[Resources]:
    """Create every shared client; close them all on exit, even if one fails to close.

    Args:
        settings: the gateway's settings.
        verifies_tokens: the API verifies tokens and mirrors the deny-list; a worker, which never
            does, skips the mirror's subscription and snapshot.
    """
    configure_pillow(max_pixels=settings.max_image_pixels, heic=settings.accept_heic)
    async with AsyncExitStack() as stack:
        db_engine = create_engine(settings)
        stack.push_async_callback(db_engine.dispose)
        redis = create_redis(settings)
        stack.push_async_callback(redis.aclose)
        denylist_redis = create_denylist_redis(settings)
        stack.push_async_callback(denylist_redis.aclose)
        # Revocations mirrored in memory: no deny-list round trip per request while it is fresh.
        denylist_mirror = None
        if verifies_tokens:
            denylist_mirror = DenylistMirror(denylist_redis, client_name="gateway-denylist-mirror")
            await denylist_mirror.start()
            stack.push_async_callback(denylist_mirror.stop)

        async def client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
            http = create_engine_client(base_url, timeout_s=timeout_s, connect_timeout_s=settings.engine_connect_timeout_s)
            return await stack.enter_async_context(http)

        plant_id_http = await client(settings.plant_id_base_url, settings.plant_id_timeout_s)
        plantnet_http = await client(settings.plantnet_base_url, settings.plantnet_timeout_s)
        gbif_http = await client(settings.gbif_base_url, settings.gbif_timeout_s) if settings.gbif_enabled else None
        cms_http = await client(settings.cms_internal_url, settings.cms_timeout_s) if settings.cms_internal_url else None
        auth_http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(settings.auth_timeout_s), headers={"User-Agent": USER_AGENT}, follow_redirects=False)
        )
        sessions = create_sessionmaker(db_engine)
        history = HistoryStore(sessions)
        breakers = create_breakers(settings, redis)
        quotas = QuotaTracker(redis, prefix=f"{settings.redis_key_prefix}quota:")
        stats = IdentificationStats(redis, prefix=f"{settings.redis_key_prefix}stats:")
        stack.push_async_callback(stats.aclose)  # the last second's counts, before Redis closes
        pipeline = build_pipeline(
            settings, redis=redis, history=history, breakers=breakers, quotas=quotas, plant_id_http=plant_id_http,
            plantnet_http=plantnet_http, gbif_http=gbif_http, cms_http=cms_http, auth_http=auth_http, stats=stats,
        )  # fmt: skip
        broker_redis = Redis.from_url(
            settings.celery_broker_url, socket_timeout=settings.redis_timeout_s, socket_connect_timeout=settings.redis_timeout_s, max_connections=8
        )
        stack.push_async_callback(broker_redis.aclose)
        hub = EventHub(settings.redis_url, prefix=settings.redis_key_prefix)
        stack.push_async_callback(hub.aclose)
        rate_limiter = RateLimiter(redis, prefix=f"{settings.redis_key_prefix}rl:")
        jobs = JobStore(sessions)
        events = JobEvents(jobs, redis, prefix=settings.redis_key_prefix)
        celery = create_celery(settings, name="identify_gateway.producer")
        stack.callback(celery.close)
        yield Resources(
            settings=settings,
            db_engine=db_engine,
            sessions=sessions,
            redis=redis,
            plant_id_http=plant_id_http,
            plantnet_http=plantnet_http,
            auth_http=auth_http,
            denylist_redis=denylist_redis,
            verifier=TokenVerifier(
                jwks_url=settings.jwks_url, issuer=settings.token_issuer, audience=settings.token_audience,
                http_client=auth_http, denylist_redis=denylist_redis, denylist_mirror=denylist_mirror,
            ),  # fmt: skip
            breakers=breakers,
            rate_limiter=rate_limiter,
            concurrency=ConcurrencyLimiter(redis, prefix=f"{settings.redis_key_prefix}cc:"),
            quotas=quotas,
            history=history,
            pipeline=pipeline,
            stats=stats,
            celery=celery,
            broker_redis=broker_redis,
            jobs=jobs,
            events=events,
            hub=hub,
            runner=JobRunner(settings, pipeline=pipeline, store=jobs, events=events, limiter=rate_limiter),
        )
