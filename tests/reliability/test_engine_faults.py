"""Scenario 5 (issue #7): an identification engine down, slow (10 s), flapping and out of quota.

Real identifications (a new photo every time, and one photo sent again and again) go through the
edge to the gateway while the stand-in is told to fail. What the gateway specifies
(docs/architecture.md, identify_gateway/resilience/breakers.py, identify/pipeline.py):

- one engine failing: answers come from the other one with `degraded: true`; after `fail_max`
  consecutive failures (Plant.id 3, Pl@ntNet 5) its breaker opens: health says so and the engine
  gets no call until the reset timeout has passed; then exactly one probe, and closed again;
- every engine unavailable: 503 with the seed's sentence and `Retry-After`, before the upload is
  read when every breaker is open (no engine call);
- no answer waits past the engine's time budget plus the enrichment budget;
- out of quota: the engine is skipped (no call), health reports the quota, answers are degraded.

The breakers' reset timeout is shortened for the suite (conftest.py, STACK_SETTINGS); the other
figures are the gateway's defaults, read from its settings class. The cases share a new member
account that nothing else uses, so that "data lost" can be counted: every 200 answer a case got
must have added one row to that member's history.
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from identify_gateway.config import ENV_PREFIX, Settings
from identify_gateway.identify.errors import SERVICE_UNAVAILABLE

from tests.gateway.conftest import HEALTH, HISTORY, IDENTIFY, Standin, _clear, gateway_redis, photo, upload  # noqa: F401 - `gateway_redis` is a fixture
from tests.reliability.conftest import STACK_SETTINGS
from tests.reliability.loadgen import Kind, Load, Report


def gateway_setting(name: str) -> float:
    """A gateway setting as the suite's stack runs it: the suite's override, else the gateway's default."""
    variable = f"{ENV_PREFIX}{name.upper()}"
    return float(STACK_SETTINGS.get(variable, os.environ.get(variable, Settings.model_fields[name].default)))


ENGINES = ("plant_id", "plantnet")
RESET_S = gateway_setting("breaker_reset_timeout_s")
FAIL_MAX = {engine: int(gateway_setting(f"{engine}_fail_max")) for engine in ENGINES}
ENGINE_TIMEOUT_S = {engine: gateway_setting(f"{engine}_timeout_s") for engine in ENGINES}
# Decoding, the history write, the edge, and two cores shared with the load and other suites.
MARGIN_S = 3.0
ENGINE_DOWN_FAILURES = ("failed", "timeout")  # outcomes a breaker counts
ANSWERED = ("ok", "no_match")
SLOW_S = 10.0
PROBE_DELAY_S = 2.0  # a returning engine answers slowly at first, so its probe can be watched
FAST_S = 2.0  # a refusal that awaited no engine (their budgets are 10 and 15 s)
FLAP_SEED = 6  # the stand-in's draws for this seed fail calls 3, 4 and 5 in a row: Plant.id's breaker must trip
DISTINCT, REPEATED = "identify new photo", "identify same photo"
SEED_503 = {"detail": SERVICE_UNAVAILABLE, "code": "service_unavailable"}


def deadline_s(*engines: str) -> float:
    """How long an identification calling `engines` may take: the slowest budget, enrichment, margin."""
    return max(ENGINE_TIMEOUT_S[e] for e in engines) + gateway_setting("enrichment_budget_s") + MARGIN_S


# ---- what the load received -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    kind: str
    started: float
    ended: float
    status: int
    body: dict[str, Any] | None  # None: not JSON (then `text` says what it was)
    retry_after: str | None
    text: str = ""

    def engine(self, name: str) -> str | None:
        return ((self.body or {}).get("engines") or {}).get(name, {}).get("status")

    @property
    def computed(self) -> bool:
        """A 200 computed for this request (engines called or skipped now), not a cache hit or a joined flight."""
        return self.status == 200 and self.body is not None and self.body.get("cached") is False


class Answers:
    """Every identification answer of one case, with its body (the load's samples keep only statuses)."""

    def __init__(self, edge_url: str, token: str) -> None:
        self.edge_url, self.token = edge_url, token
        self.stored_before = history_count(edge_url, token)
        self.items: list[Answer] = []
        self._lock = threading.Lock()

    def post(self, http: httpx.Client, kind: str, image: bytes) -> httpx.Response:
        started = time.monotonic()
        response = http.post(IDENTIFY, files=upload(image), headers={"Authorization": f"Bearer {self.token}"})
        try:
            body, text = response.json(), ""
        except ValueError:
            body, text = None, response.text[:80]
        with self._lock:
            self.items.append(Answer(kind, started, time.monotonic(), response.status_code, body, response.headers.get("Retry-After"), text))
        return response

    def kinds(self, case: str) -> list[Kind]:
        """A new photo every time (ok: a complete answer), and one photo of this case again and again
        (cached after a warm-up before the fault; ok: any 200)."""
        same = photo(f"{case}-{uuid.uuid4().hex}")

        def warm(http: httpx.Client, _state: dict[str, Any]) -> None:
            self.post(http, REPEATED, same).raise_for_status()

        return [
            Kind(DISTINCT, lambda http, _s: self.post(http, DISTINCT, photo()), ok=is_complete),
            Kind(REPEATED, lambda http, _s: self.post(http, REPEATED, same), setup=warm),
        ]

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.items if start <= a.started and a.ended <= end]

    def summary(self) -> str:
        ok = [a for a in self.items if a.status == 200 and a.body]
        degraded = [a for a in ok if a.body["degraded"]]  # type: ignore[index]
        why = {e: dict(Counter(a.engine(e) for a in degraded if a.engine(e) not in ANSWERED)) for e in ENGINES}
        return (f"answers 200 (warm-ups included): {len(ok)} (complete {len(ok) - len(degraded)}, degraded {len(degraded)}, cached/joined "
                f"{sum(1 for a in ok if not a.computed)}); degraded because {why}")


def is_complete(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json().get("degraded") is False


# ---- the gateway and the stand-in, observed ------------------------------------------------------------


def health(gateway_url: str) -> dict[str, Any]:
    """The gateway's health report, asked of the gateway itself: what its breakers say, whatever the edge
    in front of it does (an edge that takes the gateway out of its rotation answers health itself)."""
    return httpx.get(f"{gateway_url}{HEALTH}", timeout=10).json()


def wait_for(predicate: Callable[[], bool], *, within: float) -> float | None:
    """Seconds until `predicate()` held (polled every 0.1 s), None if it did not within `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def circuit_is(gateway_url: str, engine: str, *states: str) -> Callable[[], bool]:
    return lambda: health(gateway_url)["services"][engine]["circuit_state"] in states


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def open_for(gateway_redis: redis.Redis, engine: str) -> float:
    """Seconds left before the open breaker of `engine` lets a probe through (its shared state in Redis)."""
    opened_at = gateway_redis.hget(f"gw:cb:{engine}", "opened_at")
    now_s, now_us = gateway_redis.time()
    return 0.0 if opened_at is None else float(opened_at) + RESET_S - (now_s + now_us / 1e6)


def engine_counters(standin: Standin, engine: str) -> dict[str, int]:
    return standin.http.get("/_standin/control").json()[engine]


def history_count(edge_url: str, token: str) -> int:
    response = httpx.get(f"{edge_url}{HISTORY}", params={"page_size": 1}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return int(response.json()["count"])


@pytest.fixture(scope="module")
def member(member_account: Callable[[], str]) -> str:
    """One new member for these cases (an account is slow to make): each case counts its own history rows."""
    return member_account()


@pytest.fixture(scope="session")
def gateway_url(stack_env: Callable[[str], str]) -> str:
    return stack_env("PLATFORM_GATEWAY_URL")


@pytest.fixture
def engines(standin: Standin, gateway_redis: redis.Redis) -> Iterator[Standin]:
    """The stand-in, with the gateway's breakers and quota records cleared before and after: what one
    case tripped (a breaker forced open until midnight) must not decide the next."""
    for pattern in ("gw:cb:*", "gw:quota:*"):
        _clear(gateway_redis, pattern)
    yield standin
    standin.reset()
    for pattern in ("gw:cb:*", "gw:quota:*"):
        _clear(gateway_redis, pattern)


# ---- what every case asserts --------------------------------------------------------------------------


def finish(load: Load, answers: Answers, *, scenario: str, notes: list[str]) -> tuple[Report, int]:
    """The report (data lost: 200 answers missing from the member's history) and the identifications stored meanwhile."""
    stored = history_count(answers.edge_url, answers.token) - answers.stored_before
    answered = sum(1 for a in answers.items if a.status == 200)
    report = load.report(scenario=scenario, data_lost=max(0, answered - stored), notes=[answers.summary(), *notes])
    return report, stored


def assert_clean(report: Report, answers: Answers, stored: int, *, deadline: float) -> None:
    """No transport error, no 5xx but the documented 503, nothing past the deadline, nothing lost."""
    assert not report.errors(), f"transport errors (refused, timed out): {report.errors()}"
    undocumented = [a for a in answers.items if a.status >= 500 and not (a.body == SEED_503 and (a.retry_after or "").isdigit())]
    assert not undocumented, (
        f"{len(undocumented)} answers were 5xx other than the seed's 503 with Retry-After, e.g. {undocumented[:2]}; bodies: "
        f"{dict(Counter(a.text.strip() or str(a.body) for a in undocumented))}"
    )
    late = [s for s in report.samples if s.elapsed > deadline]
    assert not late, f"{len(late)} requests waited past the {deadline:.1f} s deadline, e.g. {late[:3]}"
    assert stored == sum(1 for a in answers.items if a.status == 200), f"history holds {stored} identifications: {report.lines()}"


def assert_degraded_from(answers: list[Answer], *, missing: str, present: str, missing_as: tuple[str, ...]) -> None:
    """Every answer is a 200; computed ones have `present` answered, `missing` answered or in `missing_as`, and `degraded` saying which."""
    for answer in answers:
        assert answer.status == 200, answer
        if not answer.computed:
            continue
        assert answer.engine(present) in ANSWERED, answer.body
        assert answer.engine(missing) in (*ANSWERED, *missing_as), answer.body
        assert answer.body["degraded"] is (answer.engine(missing) not in ANSWERED), answer.body  # type: ignore[index]


# ---- the cases ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dead", "alive"), [("plant_id", "plantnet"), ("plantnet", "plant_id")])
def test_one_engine_down_answers_degraded_from_the_other_and_its_breaker_probes_once(
    dead: str, alive: str, edge_url: str, gateway_url: str, engines: Standin, gateway_redis: redis.Redis,
    member: str, print_report: Callable[[Report], None],
) -> None:
    answers = Answers(edge_url, member)
    deadline = deadline_s(*ENGINES)
    with Load(edge_url, answers.kinds(f"down-{dead}"), clients_per_kind=2, timeout=deadline + 5) as load:
        load.wait(0.5)  # steady state first
        engines.set(dead, "down")
        opened_after = wait_for(circuit_is(gateway_url, dead, "open"), within=10)
        time.sleep(0.3)  # a call admitted just before the trip has failed by now (a dropped connection fails at once)
        frozen_from, calls_when_open = time.monotonic(), engines.calls()[dead]
        time.sleep(max(0.0, min(1.5, open_for(gateway_redis, dead) - 0.5)))  # well inside the open period
        frozen_until, calls_later = time.monotonic(), engines.calls()[dead]

        engines.set(dead, "ok", delay_s=PROBE_DELAY_S)  # back, slowly: the probe lasts long enough to be watched
        load.mark_restart()
        calls_at_return, open_left = engines.calls()[dead], open_for(gateway_redis, dead)
        probing_after = wait_for(circuit_is(gateway_url, dead, "half_open"), within=RESET_S + 5)
        calls_while_probing = []
        while health(gateway_url)["services"][dead]["circuit_state"] == "half_open":
            calls_while_probing.append(engines.calls()[dead])
            time.sleep(0.2)
        closed_after = wait_for(circuit_is(gateway_url, dead, "closed"), within=PROBE_DELAY_S + 5)
        engines.set(dead, "ok")
        load.wait_until_recovered(within=10)
    calls_at_end = engines.calls()[dead]
    report, stored = finish(load, answers, scenario=f"{dead} down ({alive} answers), then back", notes=[
        f"breaker: open {seconds(opened_after)} after the fault; {dead} calls while open {calls_when_open} → {calls_later} "
        f"over {frozen_until - frozen_from:.1f} s; half-open {seconds(probing_after)} after the return, its open period had "
        f"{open_left:.2f} s left (calls seen while probing "
        f"{calls_while_probing}, at the return {calls_at_return}); closed {seconds(closed_after)} later",
    ])
    print_report(report)

    assert_clean(report, answers, stored, deadline=deadline)
    assert_degraded_from(answers.items, missing=dead, present=alive, missing_as=("failed", "circuit_open"))
    assert opened_after is not None, f"the {dead} breaker never showed open in health"
    assert calls_later == calls_when_open, f"{dead} was called while its breaker was open"
    while_open = [a for a in answers.between(frozen_from, frozen_until) if a.computed]
    assert while_open and all(a.engine(dead) == "circuit_open" for a in while_open), [a.body for a in while_open]
    assert probing_after is not None, f"no probe of {dead} after the reset timeout"
    assert probing_after >= open_left - 0.3, f"{dead} probed {open_left - probing_after:.2f} s before its reset timeout had passed"
    assert calls_while_probing and max(calls_while_probing) == calls_at_return + 1, "exactly one probe while half-open"
    assert closed_after is not None, f"the {dead} breaker did not close after a successful probe"
    assert calls_at_end > calls_at_return + 1, f"{dead} gets traffic again once closed"
    assert report.recovery_s is not None, report.lines()


def test_both_engines_down_is_a_fast_503_with_the_seed_sentence_and_no_engine_call(
    edge_url: str, gateway_url: str, engines: Standin, gateway_redis: redis.Redis, member: str, print_report: Callable[[Report], None],
) -> None:
    answers = Answers(edge_url, member)
    deadline = deadline_s(*ENGINES)
    # Both open, each with 2 s of its open period left: Plant.id trips first, and its failed probes restart its period.
    both_open = lambda: all(circuit_is(gateway_url, e, "open")() and open_for(gateway_redis, e) > 2.0 for e in ENGINES)  # noqa: E731
    with Load(edge_url, answers.kinds("both-down"), clients_per_kind=2, timeout=deadline + 5) as load:
        load.wait(0.5)  # steady state first
        for engine in ENGINES:
            engines.set(engine, "down")
        opened_after = wait_for(both_open, within=15)
        time.sleep(0.3)
        window_from, calls_from = time.monotonic(), engines.calls()
        time.sleep(max(0.0, min(open_for(gateway_redis, e) - 0.5 for e in ENGINES)))
        window_until, calls_until = time.monotonic(), engines.calls()
        for engine in ENGINES:
            engines.set(engine, "ok")
        load.mark_restart()
        load.wait_until_recovered(within=RESET_S + 8)
    in_window = answers.between(window_from, window_until)
    refused_in = sorted(a.ended - a.started for a in in_window)
    refused = [a for a in answers.items if a.status == 503]
    report, stored = finish(load, answers, scenario="both engines down, then back", notes=[
        f"breakers: both open {seconds(opened_after)} after the fault; engine calls over {window_until - window_from:.1f} s of it: "
        f"{ {e: calls_until[e] - calls_from[e] for e in ENGINES} }; answers then: {dict(Counter(a.status for a in in_window))}, "
        f"p50 {refused_in[len(refused_in) // 2] if refused_in else 0:.3f} s, longest {refused_in[-1] if refused_in else 0:.3f} s",
        f"503 bodies: {dict(Counter(a.body.get('code') if a.body else a.text.strip() for a in refused))}; "
        f"Retry-After seen {sorted({a.retry_after for a in refused}, key=str)}",
    ])
    print_report(report)

    assert opened_after is not None, "the two breakers were never open together"
    assert all(calls_until[e] == calls_from[e] for e in ENGINES), f"engines called while both breakers were open: {calls_from} → {calls_until}"
    assert in_window and all(a.status == 503 for a in in_window), Counter(a.status for a in in_window)
    assert refused_in[-1] < FAST_S, f"a 503 with every breaker open took {refused_in[-1]:.2f} s"
    # Retry-After: when the first probe is due while the breakers are open; up to the failed engines' 5 s before.
    seed = [a for a in refused if a.body == SEED_503]
    assert all(1 <= int(a.retry_after or 0) <= math.ceil(RESET_S) for a in seed if a in in_window), "Retry-After while open"
    assert all(1 <= int(a.retry_after or 0) <= max(5, math.ceil(RESET_S)) for a in seed), sorted({a.retry_after for a in seed}, key=str)
    assert report.recovery_s is not None, report.lines()
    assert_clean(report, answers, stored, deadline=deadline)  # last: the edge's own 503s (see the report) fail here


def test_a_slow_engine_never_holds_an_answer_past_its_deadline(
    edge_url: str, gateway_url: str, engines: Standin, member: str, print_report: Callable[[Report], None],
) -> None:
    answers = Answers(edge_url, member)
    deadline = deadline_s("plant_id")  # Pl@ntNet answers at once: Plant.id's budget bounds every answer
    # Three clients sending new photos: Plant.id's fail_max (3) timeouts arrive together.
    with Load(edge_url, answers.kinds("slow"), clients_per_kind=FAIL_MAX["plant_id"], timeout=deadline + 10) as load:
        load.wait(0.5)  # steady state first
        engines.set("plant_id", "slow", delay_s=SLOW_S)
        opened_after = wait_for(circuit_is(gateway_url, "plant_id", "open", "half_open"), within=ENGINE_TIMEOUT_S["plant_id"] + 8)
        load.wait(2)  # answered by Pl@ntNet alone, at once, while the breaker is open
        engines.set("plant_id", "ok")
        load.mark_restart()
        load.wait_until_recovered(within=ENGINE_TIMEOUT_S["plant_id"] + RESET_S + 8)  # a probe may still be waiting 10 s
    longest = max(s.elapsed for s in load.samples)
    report, stored = finish(load, answers, scenario=f"Plant.id slow ({SLOW_S:g} s per call), then back", notes=[
        f"deadline {deadline:.1f} s (Plant.id budget {ENGINE_TIMEOUT_S['plant_id']:g} s + enrichment + {MARGIN_S:g} s margin); longest {longest:.2f} s",
        f"breaker: open {seconds(opened_after)} after the slowdown",
    ])
    print_report(report)

    assert_clean(report, answers, stored, deadline=deadline)
    assert_degraded_from(answers.items, missing="plant_id", present="plantnet", missing_as=("timeout", "circuit_open"))
    assert any(a.engine("plant_id") == "timeout" for a in answers.items), "no Plant.id call was cut off at its budget"
    assert opened_after is not None, "consecutive timeouts did not open Plant.id's breaker"
    assert report.recovery_s is not None, report.lines()


def test_a_flapping_engine_gives_complete_or_degraded_answers_and_trips_its_breaker_per_config(
    edge_url: str, engines: Standin, member: str, print_report: Callable[[Report], None],
) -> None:
    answers = Answers(edge_url, member)
    deadline = deadline_s(*ENGINES)
    before = engine_counters(engines, "plant_id")
    # One client sends new photos, so Plant.id's calls (and the stand-in's seeded draws) come one at a time, in order.
    with Load(edge_url, answers.kinds("flapping"), clients_per_kind=1, timeout=deadline + 5) as load:
        load.wait(0.5)  # steady state first
        engines.set("plant_id", "ok", error_rate=0.5, seed=FLAP_SEED)
        load.wait(8)
        engines.set("plant_id", "ok")
        load.mark_restart()
        load.wait_until_recovered(within=RESET_S + 6)
    after = engine_counters(engines, "plant_id")
    trips, violations = breaker_model(sorted((a for a in answers.items if a.computed), key=lambda a: a.started))
    called = [a for a in answers.items if a.computed and a.engine("plant_id") != "circuit_open"]
    failed = [a for a in called if a.engine("plant_id") == "failed"]
    report, stored = finish(load, answers, scenario="Plant.id flapping (50% errors, seeded), then steady", notes=[
        f"Plant.id calls {after['calls'] - before['calls']} (answers that called it {len(called)}), injected failures "
        f"{after['failures'] - before['failures']} (answers saying failed {len(failed)}); breaker trips {trips}",
    ])
    print_report(report)

    assert_clean(report, answers, stored, deadline=deadline)
    assert all(a.status == 200 for a in answers.items), Counter(a.status for a in answers.items)
    assert_degraded_from(answers.items, missing="plant_id", present="plantnet", missing_as=("failed", "circuit_open"))
    assert after["calls"] - before["calls"] == len(called), "every Plant.id call shows in exactly one answer"
    # A failed /usage_info (health's background read, uncounted in `calls`) also counts as an injected failure.
    extra = after["free_calls"] - before["free_calls"]
    assert len(failed) <= after["failures"] - before["failures"] <= len(failed) + extra
    assert not violations, violations
    assert trips >= 1, f"Plant.id's breaker never opened although its calls failed {FAIL_MAX['plant_id']} times in a row"
    assert report.recovery_s is not None, report.lines()


def breaker_model(computed: list[Answer]) -> tuple[int, list[str]]:
    """Replay Plant.id's outcomes, in call order, through the breaker's rules (pybreaker's): `fail_max`
    consecutive failures open it; open, it is not called until the reset timeout has passed; then one
    probe closes it or opens it again. Returns the trips and every answer that broke a rule."""
    fail_max, state, run, tripped_at, trips, violations = FAIL_MAX["plant_id"], "closed", 0, 0.0, 0, []
    for answer in computed:
        outcome = answer.engine("plant_id")
        if state == "closed":
            if outcome == "circuit_open":
                violations.append(f"circuit open after {run} consecutive failures (fail_max {fail_max}) at {answer.started:.2f}")
            elif outcome in ENGINE_DOWN_FAILURES:
                run += 1
                if run >= fail_max:
                    state, tripped_at, trips = "open", answer.started, trips + 1
            else:
                run = 0
        elif outcome != "circuit_open":  # the probe: the first call since the circuit opened
            if answer.started < tripped_at + RESET_S - 1.0:  # 1 s: the request is read and decoded before the call
                violations.append(f"called {answer.started - tripped_at:.2f} s after opening (reset timeout {RESET_S:g} s)")
            if outcome in ENGINE_DOWN_FAILURES:
                tripped_at = answer.started
            else:
                state, run = "closed", 0
    return trips, violations


@pytest.mark.parametrize(("engine", "exhaust"), [
    ("plant_id", {"mode": "quota"}),  # every call: 429 "out of credits"
    ("plantnet", {"mode": "ok", "remaining": 3}),  # three identifications left today, then 429 until 00:00 UTC
])  # fmt: skip
def test_an_engine_out_of_quota_is_skipped_and_health_reports_it(
    engine: str, exhaust: dict[str, Any], edge_url: str, gateway_url: str, engines: Standin, member: str, print_report: Callable[[Report], None],
) -> None:
    answers = Answers(edge_url, member)
    other = next(e for e in ENGINES if e != engine)
    deadline = deadline_s(*ENGINES)
    clients = 2
    with Load(edge_url, answers.kinds(f"quota-{engine}"), clients_per_kind=clients, timeout=deadline + 5) as load:
        load.wait(0.5)  # steady state first
        calls_before = engines.calls()[engine]
        engines.set(engine, **exhaust)
        skipped_after = wait_for(lambda: health(gateway_url)["quota"][engine]["exhausted"] is True, within=10)
        time.sleep(0.3)
        skip_from, calls_from = time.monotonic(), engines.calls()[engine]
        load.wait(2)
        skip_until, calls_until = time.monotonic(), engines.calls()[engine]
        report_health = health(gateway_url)
    report, stored = finish(load, answers, scenario=f"{engine} out of quota", notes=[
        f"{engine} calls after the quota ran out: {calls_until - calls_before} (none over the last {skip_until - skip_from:.1f} s); "
        f"health quota {report_health['quota'][engine]}, circuit {report_health['services'][engine]['circuit_state']}",
        "(no recovery in this case: the engine is skipped until its quota resets, 00:00 UTC for Pl@ntNet, credits seen again for Plant.id)",
    ])
    print_report(report)

    assert_clean(report, answers, stored, deadline=deadline)
    assert_degraded_from(answers.items, missing=engine, present=other, missing_as=("quota_exhausted", "circuit_open"))
    assert skipped_after is not None, f"health never reported {engine}'s quota exhausted"
    assert calls_until == calls_from, f"{engine} was called after its quota was known to be exhausted"
    allowed = exhaust.get("remaining", 0)
    assert allowed <= calls_until - calls_before <= allowed + clients, "calls once out of quota: only those already in flight"
    skipped = [a for a in answers.between(skip_from, skip_until) if a.computed]
    assert skipped and all(a.engine(engine) in ("quota_exhausted", "circuit_open") for a in skipped), [a.body for a in skipped[:3]]
    assert report_health["quota"][engine]["remaining"] == 0
