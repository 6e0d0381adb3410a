"""EngineBreaker against the real Redis: counting, exclusion, sharing, one probe, forcing, logs, Redis down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from identify_gateway.resilience.breakers import EngineBreaker
from identify_gateway.resilience.errors import BreakerOpen, EngineBusy


class EngineDown(Exception):
    """A 5xx / timeout / connection error: counts."""


class BadImage(Exception):
    """A 4xx caused by the image: never counts."""


def breaker(redis: Redis, prefix: str, name: str = "plant_id", **options: Any) -> EngineBreaker:
    settings: dict[str, Any] = {"fail_max": 3, "reset_timeout_s": 0.3, "max_concurrency": 100, "excluded": lambda e: isinstance(e, BadImage)}
    return EngineBreaker(name, redis, prefix=f"{prefix}cb:", **{**settings, **options})


class Engine:
    """A stand-in for an engine call: counts calls, fails or succeeds as told.

    `gate`: the call answers only once the test sets it (an ordering, not a duration to guess).
    """

    def __init__(self) -> None:
        self.calls = 0

    def failing(self, exc: BaseException | None = None, *, seconds: float = 0.0, gate: asyncio.Event | None = None) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            self.calls += 1
            await _answer_after(seconds, gate)
            raise exc or EngineDown("HTTP 503 from the engine")
        return call

    def ok(self, *, seconds: float = 0.0, value: str = "suggestions", gate: asyncio.Event | None = None) -> Callable[[], Awaitable[str]]:
        async def call() -> str:
            self.calls += 1
            await _answer_after(seconds, gate)
            return value
        return call


async def _answer_after(seconds: float, gate: asyncio.Event | None) -> None:
    await asyncio.sleep(seconds)
    if gate is not None:
        await gate.wait()


async def fail_times(b: EngineBreaker, engine: Engine, n: int) -> None:
    for _ in range(n):
        with pytest.raises(EngineDown):
            await b.call(engine.failing())


async def test_it_opens_after_fail_max_consecutive_failures(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix), Engine()

    await fail_times(b, engine, 2)
    assert (await b.snapshot()).state == "closed"
    await fail_times(b, engine, 1)

    snapshot = await b.snapshot()
    assert snapshot.state == "open" and snapshot.fail_count == 3 and snapshot.fail_max == 3
    assert snapshot.opened_until is not None and 0 < snapshot.opened_until - time.time() <= 0.3
    assert REGISTRY.get_sample_value("gateway_breaker_state", {"engine": "plant_id"}) == 2


async def test_an_open_breaker_refuses_fast_without_calling_the_engine(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix, reset_timeout_s=60), Engine()
    await fail_times(b, engine, 3)
    calls_before = engine.calls

    for _ in range(100):
        with pytest.raises(BreakerOpen) as refused:
            await b.call(engine.ok())

    # How fast (one Redis read) is measured by bench/gateway_breaker_open.py, not asserted here:
    # a duration budget in a unit test fails on a loaded machine.
    assert engine.calls == calls_before
    assert refused.value.engine == "plant_id" and 59 < refused.value.retry_after_s <= 60  # type: ignore[operator]
    assert refused.value.retry_after_header() == 60


async def test_a_success_resets_the_consecutive_count(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix), Engine()

    await fail_times(b, engine, 2)
    assert await b.call(engine.ok()) == "suggestions"
    await fail_times(b, engine, 2)

    snapshot = await b.snapshot()
    assert snapshot.state == "closed" and snapshot.fail_count == 2


async def test_excluded_errors_never_count(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix), Engine()

    for _ in range(10):
        with pytest.raises(BadImage):
            await b.call(engine.failing(BadImage("HTTP 400 Invalid image data")))

    snapshot = await b.snapshot()
    assert snapshot.state == "closed" and snapshot.fail_count == 0


async def test_the_engine_error_reaches_the_caller_with_its_own_traceback(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix, fail_max=1), Engine()

    with pytest.raises(EngineDown) as raised:
        await b.call(engine.failing())

    frames = []
    tb = raised.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "call" and "replay" not in frames


async def test_two_processes_share_one_state(redis: Redis, prefix: str) -> None:
    first, second, engine = breaker(redis, prefix), breaker(redis, prefix), Engine()  # two instances: two processes

    await fail_times(first, engine, 2)
    await fail_times(second, engine, 1)

    assert (await first.snapshot()).state == "open"
    with pytest.raises(BreakerOpen):
        await first.call(engine.ok())
    with pytest.raises(BreakerOpen):
        await second.call(engine.ok())


async def test_failures_racing_in_two_processes_still_trip_at_fail_max(redis: Redis, prefix: str) -> None:
    first, second, engine = breaker(redis, prefix), breaker(redis, prefix), Engine()
    await fail_times(first, engine, 1)

    # Both load the shared count (1) before either failure is written; each alone counts 2.
    results = await asyncio.gather(first.call(engine.failing(seconds=0.05)), second.call(engine.failing(seconds=0.05)), return_exceptions=True)

    assert all(isinstance(r, EngineDown) for r in results)
    assert (await first.snapshot()).state == "open" and (await second.snapshot()).state == "open"


async def test_after_the_reset_timeout_exactly_one_probe_runs_among_fifty_callers(redis: Redis, prefix: str, until: Any) -> None:
    processes = [breaker(redis, prefix), breaker(redis, prefix)]
    failing = Engine()
    await fail_times(processes[0], failing, 3)
    await asyncio.sleep(0.35)
    engine, gate = Engine(), asyncio.Event()

    # The probe answers only after every other caller has been answered: however slow the machine,
    # no caller can arrive after the probe closed the circuit (which a fixed 0.2 s probe allowed).
    calls = [asyncio.create_task(processes[n % 2].call(engine.ok(gate=gate))) for n in range(50)]
    await until(lambda: sum(not c.done() for c in calls) <= 1)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)

    assert engine.calls == 1
    assert results.count("suggestions") == 1
    assert sum(isinstance(r, BreakerOpen) for r in results) == 49
    assert (await processes[1].snapshot()).state == "closed"
    assert await processes[1].call(engine.ok()) == "suggestions"  # closed: everyone goes through again


async def test_with_the_engine_still_down_one_probe_per_reset_period_among_fifty_callers(redis: Redis, prefix: str, until: Any) -> None:
    processes = [breaker(redis, prefix), breaker(redis, prefix)]
    engine, gate = Engine(), asyncio.Event()
    await fail_times(processes[0], engine, 3)
    await asyncio.sleep(0.35)
    calls_before = engine.calls

    calls = [asyncio.create_task(processes[n % 2].call(engine.failing(gate=gate))) for n in range(50)]
    await until(lambda: sum(not c.done() for c in calls) <= 1)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)

    assert engine.calls - calls_before == 1
    assert sum(isinstance(r, EngineDown) for r in results) == 1 and sum(isinstance(r, BreakerOpen) for r in results) == 49
    for process in processes:  # open again, with a fresh reset timeout, as both processes see it
        snapshot = await process.snapshot()
        assert snapshot.state == "open" and snapshot.opened_until is not None and snapshot.opened_until > time.time()
        with pytest.raises(BreakerOpen):
            await process.call(engine.ok())
    assert engine.calls - calls_before == 1


async def test_a_caller_that_saw_the_previous_period_cannot_probe_after_a_failed_probe(redis: Redis, prefix: str, until: Any) -> None:
    first = breaker(redis, prefix)
    second = breaker(redis, prefix, max_concurrency=1, queue_timeout_s=10)  # another process, one engine slot
    engine, release_slot = Engine(), asyncio.Event()
    holder = asyncio.create_task(second.call(engine.ok(gate=release_slot)))  # began while closed; holds the slot
    await fail_times(first, engine, 3)
    await asyncio.sleep(0.35)

    # `late` reads "open, reset timeout passed" and then waits for the slot (any suspension between
    # reading the state and claiming the probe: a busy event loop, a slow Redis, the slot queue).
    late = asyncio.create_task(second.call(engine.ok()))
    assert await until(lambda: bool(second._semaphore._waiters))  # noqa: SLF001 - the only way to see the queue
    with pytest.raises(EngineDown):
        await first.call(engine.failing())  # the period's one probe fails: open again, its token released
    calls_after_probe = engine.calls
    release_slot.set()
    await holder

    with pytest.raises(BreakerOpen):
        await late
    assert engine.calls == calls_after_probe
    snapshot = await second.snapshot()
    assert snapshot.state == "open" and snapshot.opened_until is not None and snapshot.opened_until > time.time()


async def test_a_stale_read_adopted_during_the_probe_does_not_discard_its_outcome(redis: Redis, prefix: str, until: Any) -> None:
    # The bench caught it: another request of the same process read the shared state ("open")
    # just before the probe's half-open was written and adopted it while the probe ran; the probe's
    # failure was then dropped as "the state moved", its token freed, the shared state left
    # half-open, and a second caller probed the same period.
    b, engine = breaker(redis, prefix), Engine()
    await fail_times(b, engine, 3)
    await asyncio.sleep(0.35)
    stale = await b._load(keys=[b._key])  # noqa: SLF001 - a read from before the probe's claim
    gate = asyncio.Event()

    probe = asyncio.create_task(b.call(engine.failing(gate=gate)))
    assert await until(lambda: engine.calls == 4)  # the probe is running
    b._adopt(stale)  # noqa: SLF001 - that read, adopted while the probe runs
    gate.set()
    with pytest.raises(EngineDown):
        await probe

    snapshot = await b.snapshot()
    assert snapshot.state == "open" and snapshot.opened_until is not None and snapshot.opened_until > time.time()
    with pytest.raises(BreakerOpen):
        await breaker(redis, prefix).call(engine.ok())  # another process: no second probe this period
    assert engine.calls == 4


async def test_others_see_half_open_while_the_probe_runs_and_a_failed_probe_reopens(redis: Redis, prefix: str) -> None:
    b, other, engine = breaker(redis, prefix), breaker(redis, prefix), Engine()
    await fail_times(b, engine, 3)
    await asyncio.sleep(0.35)

    probe = asyncio.create_task(b.call(engine.failing(seconds=0.2)))
    await asyncio.sleep(0.05)
    during = await other.snapshot()
    with pytest.raises(BreakerOpen):
        await other.call(engine.ok())
    with pytest.raises(EngineDown):
        await probe

    assert during.state == "half_open"
    after = await other.snapshot()
    assert after.state == "open" and after.opened_until is not None and after.opened_until > time.time()


async def test_a_cancelled_call_counts_neither_way_and_frees_the_probe(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix), Engine()
    await fail_times(b, engine, 2)
    call = asyncio.create_task(b.call(engine.failing(seconds=5)))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert (await b.snapshot()).fail_count == 2

    await fail_times(b, engine, 1)
    await asyncio.sleep(0.35)
    probe = asyncio.create_task(b.call(engine.ok(seconds=5)))
    await asyncio.sleep(0.05)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    await asyncio.sleep(0.01)  # the probe token is released in the background

    assert await breaker(redis, prefix).call(engine.ok()) == "suggestions"  # the next caller may probe at once
    assert (await b.snapshot()).state == "closed"


async def test_force_open_outlasts_the_reset_timeout_until_reset(redis: Redis, prefix: str) -> None:
    b, other, engine = breaker(redis, prefix), breaker(redis, prefix), Engine()

    await b.force_open("Plant.id 429: out of credits")
    await asyncio.sleep(0.4)  # past the reset timeout

    with pytest.raises(BreakerOpen) as refused:
        await other.call(engine.ok())
    snapshot = await other.snapshot()
    assert engine.calls == 0
    assert refused.value.retry_after_s is None and refused.value.reason == "Plant.id 429: out of credits"
    assert snapshot.state == "open" and snapshot.forced and snapshot.opened_until is None

    await other.reset()

    assert await b.call(engine.ok()) == "suggestions"
    assert (await b.snapshot()) .state == "closed"


async def test_force_open_until_a_quota_reset_then_the_probe_decides(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix, reset_timeout_s=60), Engine()

    await b.force_open("Pl@ntNet daily quota exhausted", time.time() + 0.3)
    with pytest.raises(BreakerOpen) as refused:
        await b.call(engine.ok())
    assert 0 < refused.value.retry_after_s <= 0.3  # type: ignore[operator]
    await asyncio.sleep(0.35)

    assert await b.call(engine.ok()) == "suggestions"  # the reset time, not the 60 s reset timeout
    snapshot = await b.snapshot()
    assert snapshot.state == "closed" and not snapshot.forced


async def test_every_transition_and_failure_is_logged(redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    b, engine = breaker(redis, prefix, name="plantnet"), Engine()

    with caplog.at_level(logging.WARNING, logger="identify_gateway.resilience.breakers"):
        await fail_times(b, engine, 3)
        await asyncio.sleep(0.35)
        await b.call(engine.ok())

    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("[CIRCUIT] plantnet call FAILED - EngineDown: HTTP 503 from the engine") == 3
    transitions = [line for line in lines if "state transition" in line]
    assert transitions == [
        "[CIRCUIT] plantnet state transition: CLOSED → OPEN",
        "[CIRCUIT] plantnet state transition: OPEN → HALF_OPEN",
        "[CIRCUIT] plantnet state transition: HALF_OPEN → CLOSED",
    ]


async def test_other_processes_log_the_transitions_they_see(redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    b, watcher, engine = breaker(redis, prefix), breaker(redis, prefix), Engine()
    await watcher.snapshot()

    with caplog.at_level(logging.WARNING, logger="identify_gateway.resilience.breakers"):
        await fail_times(b, engine, 3)
        await watcher.snapshot()

    assert "[CIRCUIT] plant_id state transition: CLOSED → OPEN (seen in the shared state)" in caplog.text


async def test_the_concurrency_cap_refuses_at_once_or_after_a_bounded_wait(redis: Redis, prefix: str) -> None:
    b, engine = breaker(redis, prefix, max_concurrency=2), Engine()
    running = [asyncio.create_task(b.call(engine.ok(seconds=0.3))) for _ in range(2)]
    await asyncio.sleep(0.05)

    started = time.perf_counter()
    with pytest.raises(EngineBusy):
        await b.call(engine.ok())
    assert time.perf_counter() - started < 0.05
    queued = breaker(redis, prefix, max_concurrency=2, queue_timeout_s=1.0)
    queued._semaphore = b._semaphore  # the same process's cap
    assert await queued.call(engine.ok()) == "suggestions"  # waited for a slot
    await asyncio.gather(*running)
    assert (await b.snapshot()).fail_count == 0  # refusals are not failures


async def test_redis_down_falls_back_to_a_process_local_breaker(dead_redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    b, engine = EngineBreaker("plant_id", dead_redis, fail_max=2, reset_timeout_s=0.2, max_concurrency=10), Engine()

    with caplog.at_level(logging.WARNING, logger="identify_gateway.resilience.breakers"):
        assert await b.call(engine.ok()) == "suggestions"  # closed: still answering
        await fail_times(b, engine, 2)
        with pytest.raises(BreakerOpen):
            await b.call(engine.ok())  # still protects
        snapshot = await b.snapshot()
        await asyncio.sleep(0.25)
        results = await asyncio.gather(*(b.call(engine.ok(seconds=0.1)) for _ in range(10)), return_exceptions=True)

    assert snapshot.state == "open" and snapshot.shared is False
    assert results.count("suggestions") == 1 and sum(isinstance(r, BreakerOpen) for r in results) == 9  # one probe
    assert (await b.snapshot()).state == "closed"
    assert "shared state unreachable" in caplog.text


async def test_when_redis_returns_the_shared_state_takes_over(redis_server: Any, make_redis: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = make_redis(redis_server.url)
    b = EngineBreaker("plant_id", client, fail_max=2, reset_timeout_s=60, max_concurrency=10, redis_retry_s=0.1)
    engine = Engine()
    await fail_times(b, engine, 1)  # shared count 1
    redis_server.stop()
    await fail_times(b, engine, 1)  # local count 2: opens locally
    with pytest.raises(BreakerOpen):
        await b.call(engine.ok())
    redis_server.start()  # an empty Redis: the shared state says closed
    await asyncio.sleep(0.15)

    with caplog.at_level(logging.WARNING, logger="identify_gateway.resilience.breakers"):
        assert await b.call(engine.ok()) == "suggestions"
    snapshot = await b.snapshot()

    assert snapshot.shared and snapshot.state == "closed"
    assert "shared state reachable again" in caplog.text
