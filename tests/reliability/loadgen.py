"""Load through the edge while something breaks, and the figures every scenario prints.

    kinds = [Kind("cms read", lambda http, state: http.get("/api/v2/pages/"))]
    with Load(edge_url, kinds, clients_per_kind=2, timeout=10) as load:
        load.wait(2)                        # steady state first
        stack.process("redis").kill()
        load.wait(3)                        # the outage
        load.mark_restart()                 # recovery is measured from here
        stack.process("redis").restart()
        load.wait_until_recovered(within=20)
    report = load.report(scenario="redis killed", data_lost=0)
    print_report(report)                    # the `print_report` fixture of conftest.py

Each client is a thread with its own keep-alive connection that sends one kind of request in a
loop (with a short pause, so two cores are not saturated by the load alone) and records, per request:
the kind, when it started, how long it took, the status or the transport error. `state` is a dict
per client (e.g. its current refresh token), kept between its requests.

A request "succeeds" when `Kind.ok` says so (default: a 2xx). Time to recover: from the mark to
the end of the first success of the kind that recovered last, after which that kind never failed again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Send = Callable[[httpx.Client, dict[str, Any]], httpx.Response]


def is_2xx(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


@dataclass(frozen=True)
class Kind:
    name: str
    send: Send
    ok: Callable[[httpx.Response], bool] = is_2xx
    # Called once per client before its loop (e.g. sign in); its errors fail the scenario.
    setup: Callable[[httpx.Client, dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class Sample:
    kind: str
    started: float  # time.monotonic()
    elapsed: float
    status: int | None = None
    error: str | None = None  # the transport error's class name (ConnectError, ReadTimeout…)
    ok: bool = False
    # A 4xx/5xx whose body is the platform's envelope {"detail", "code"}.
    enveloped: bool = False
    code: str | None = None

    @property
    def ended(self) -> float:
        return self.started + self.elapsed


def _sample(kind: Kind, started: float, response: httpx.Response) -> Sample:
    code, enveloped = None, False
    if response.status_code >= 400:
        try:
            body = response.json()
            enveloped = isinstance(body, dict) and isinstance(body.get("detail"), str) and isinstance(body.get("code"), str)
            code = body.get("code") if enveloped else None
        except ValueError:
            pass
    return Sample(kind.name, started, time.monotonic() - started, status=response.status_code, ok=kind.ok(response), enveloped=enveloped, code=code)


@dataclass
class Report:
    scenario: str
    samples: list[Sample]
    duration_s: float
    data_lost: int
    recovery_s: float | None
    timeout_s: float
    notes: list[str] = field(default_factory=list)
    recovery_by_kind: dict[str, float | None] = field(default_factory=dict)

    @property
    def failed(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def statuses(self, kind: str | None = None) -> Counter[int]:
        return Counter(s.status for s in self.samples if s.status is not None and kind in (None, s.kind))

    def errors(self) -> Counter[str]:
        return Counter(s.error for s in self.samples if s.error)

    def server_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None and s.status >= 500]

    def lines(self) -> list[str]:
        kinds = sorted({s.kind for s in self.samples})
        longest = max((s.elapsed for s in self.samples), default=0.0)
        recovery = "never" if self.recovery_s is None else f"{self.recovery_s:.2f} s"
        out = [
            f"[reliability] {self.scenario}",
            f"  requests sent: {len(self.samples)} in {self.duration_s:.1f} s (longest {longest:.2f} s; client timeout {self.timeout_s:.0f} s)",
        ]
        for kind in kinds:
            mine = [s for s in self.samples if s.kind == kind]
            answered = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses(kind).items()))
            errors = Counter(s.error for s in mine if s.error)
            codes = Counter(s.code for s in mine if s.code)
            recovered = ""
            if kind in self.recovery_by_kind:
                seconds = self.recovery_by_kind[kind]
                recovered = "  recovered never" if seconds is None else f"  recovered {seconds:.2f} s"
            out.append(f"  {kind:<22} sent {len(mine):>5}  answered {{{answered}}}" + recovered
                       + (f"  errors {dict(errors)}" if errors else "") + (f"  codes {dict(codes)}" if codes else ""))
        out += [
            f"  errors (connection/timeouts): {sum(self.errors().values())} {dict(self.errors()) if self.errors() else ''}".rstrip(),
            f"  data lost: {self.data_lost}",
            f"  time to recover: {recovery}",
            *(f"  {note}" for note in self.notes),
        ]
        return out


class Load:
    """`clients_per_kind` threads per kind, each sending that kind in a loop until the block exits."""

    def __init__(self, base_url: str, kinds: list[Kind], *, clients_per_kind: int = 1, timeout: float = 10.0, pause: float = 0.05) -> None:
        self.base_url, self.kinds, self.timeout, self.pause = base_url, kinds, timeout, pause
        self.clients_per_kind = clients_per_kind
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._setup_errors: list[BaseException] = []
        self._ready = threading.Barrier(len(kinds) * clients_per_kind + 1)
        self.started_at = self.restart_at = 0.0

    def __enter__(self) -> Load:
        for kind in self.kinds:
            for index in range(self.clients_per_kind):
                thread = threading.Thread(target=self._client, args=(kind,), name=f"load-{kind.name}-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)
        self._ready.wait(timeout=120)
        if self._setup_errors:
            self._stop.set()
            raise RuntimeError(f"a load client could not set up: {self._setup_errors[0]!r}") from self._setup_errors[0]
        self.started_at = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.ended_at = time.monotonic()

    def _client(self, kind: Kind) -> None:
        state: dict[str, Any] = {}
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            try:
                if kind.setup:
                    kind.setup(http, state)
            except BaseException as exc:  # noqa: BLE001 - reported by __enter__
                self._setup_errors.append(exc)
            finally:
                self._ready.wait(timeout=120)
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    sample = _sample(kind, started, kind.send(http, state))
                except httpx.TransportError as exc:
                    sample = Sample(kind.name, started, time.monotonic() - started, error=type(exc).__name__)
                with self._lock:
                    self.samples.append(sample)
                self._stop.wait(self.pause)

    # ---- the scenario's clock -------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def mark_restart(self) -> None:
        self.restart_at = time.monotonic()

    def recovery_by_kind(self) -> dict[str, float | None]:
        """Per kind: seconds from the mark until it succeeds for good (None: not yet)."""
        with self._lock:
            samples = list(self.samples)
        recovered: dict[str, float | None] = {}
        for kind in self.kinds:
            mine = sorted((s for s in samples if s.kind == kind.name and s.started >= self.restart_at), key=lambda s: s.started)
            last_failure = max((i for i, s in enumerate(mine) if not s.ok), default=-1)
            # No success after the last failure (or no request at all) yet: not recovered.
            recovered[kind.name] = None if last_failure == len(mine) - 1 else max(0.0, mine[last_failure + 1].ended - self.restart_at)
        return recovered

    def recovery_s(self) -> float | None:
        """Seconds from the mark until every kind succeeds for good (None: some kind has not)."""
        times = list(self.recovery_by_kind().values())
        return None if None in times else max(times, default=0.0)  # type: ignore[type-var]

    def wait_until_recovered(self, *, within: float, steady: float = 1.0) -> float | None:
        """Wait until every kind has succeeded for `steady` seconds in a row, or `within` seconds passed."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            recovery = self.recovery_s()
            if recovery is not None and time.monotonic() - self.restart_at - recovery >= steady:
                return recovery
            time.sleep(0.2)
        return self.recovery_s()

    def report(self, *, scenario: str, data_lost: int = 0, notes: list[str] | None = None) -> Report:
        with self._lock:
            samples = list(self.samples)
        recovery, by_kind = (self.recovery_s(), self.recovery_by_kind()) if self.restart_at else (0.0, {})
        return Report(scenario, samples, getattr(self, "ended_at", time.monotonic()) - self.started_at, data_lost, recovery, self.timeout,
                      notes or [], by_kind)
