"""Scenario 3: one of two gateway replicas killed (SIGKILL) under load, then started again.

The edge balances the gateway over both replicas (deploy/traefik/dynamic/routes.yml): a request
that finds the dead one refused is retried on the other (retry middleware), and the active
health check takes the dead one out until it answers again. So only requests that were in flight
on the killed replica at the moment of the kill may fail; every other request must be answered.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

from devstack.stack import Stack

from tests.gateway.conftest import HEALTH
from tests.reliability.loadgen import Kind, Load, Report, Sample
from tests.reliability.test_redis_killed import identify_kinds

DOWN_S = 3.0
RECOVERY_WITHIN_S = 15.0


def gateway_traffic(stack: Stack) -> Counter[str]:
    """From the edge's access log: gateway requests per replica URL. (Its `RetryAttempts` field stays 0
    even when the retry middleware re-sends a request, so retries are not counted from it.)"""
    served = Counter[str]()
    for line in (stack.profile.log_dir / "edge-access.log").read_text(errors="replace").splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("ServiceName") == "gateway@file":
            served[entry.get("ServiceURL", "none")] += 1
    return served


# How late after the replica was reaped the edge may still see a connection it had opened to it
# reset (the kernel tears the dead process's sockets down; the edge notices when it is scheduled):
# up to ~0.3 s seen on this two-core machine under the suite's load. Requests started in that
# window count as in flight; everything started later must be answered.
EDGE_NOTICE_S = 0.5


def in_flight_during(kill: tuple[float, float]) -> Callable[[Sample], bool]:
    """The replica died at some moment between sending SIGKILL and seeing it reaped (`kill`): a
    request that started before that (plus the edge's notice) and ended after the signal may have
    been on it."""
    signalled, reaped = kill
    return lambda sample: sample.started <= reaped + EDGE_NOTICE_S and sample.ended >= signalled


def test_a_killed_gateway_replica_loses_only_its_in_flight_requests(
    stack: Stack, edge_url: str, member_account: Callable[[], str], print_report: Callable[[Report], None],
) -> None:
    assert stack.profile.gateway_replicas == 2, "this profile's stack must run two gateway replicas"
    kinds = [*identify_kinds(member_account()), Kind("gateway health", lambda http, _s: http.get(HEALTH))]
    replica = stack.process("identify-gateway-2")

    with Load(edge_url, kinds, clients_per_kind=2, timeout=10) as load:
        load.wait(2)
        killed_at = time.monotonic()
        replica.kill()
        reaped_at = time.monotonic()
        load.wait(DOWN_S)
        load.mark_restart()
        replica.restart()
        load.wait_until_recovered(within=RECOVERY_WITHIN_S)
        load.wait(2)  # the restarted replica back in the rotation, answering its share

    served = gateway_traffic(stack)
    was_in_flight = in_flight_during((killed_at, reaped_at))
    lost = [s for s in load.samples if not s.ok and not was_in_flight(s)]
    in_flight_failed = [s for s in load.samples if not s.ok and was_in_flight(s)]
    answered_meanwhile = [s for s in load.samples if s.ok and reaped_at + EDGE_NOTICE_S < s.started < load.restart_at]
    report = load.report(
        scenario=f"a gateway replica (of 2) killed (SIGKILL) under load, restarted after {DOWN_S:.0f} s",
        data_lost=len(lost),
        notes=[f"failed while in flight on the killed replica: {len(in_flight_failed)}; "
               f"answered by the other replica while it was down: {len(answered_meanwhile)}; "
               f"SIGKILL to reaped: {reaped_at - killed_at:.2f} s",
               f"edge access log, gateway requests by replica: {dict(served)}"],
    )
    print_report(report)

    replicas = stack.client_env()["PLATFORM_GATEWAY_URLS"].split(",")
    assert all(served[url] > 0 for url in replicas), f"the edge did not balance over {replicas}: {dict(served)}"
    assert not lost, f"requests lost that were not in flight at the kill: {lost[:5]}"
    assert answered_meanwhile, "nothing was answered while one replica was down"
    assert report.recovery_s is not None and report.recovery_s < RECOVERY_WITHIN_S, report.lines()
