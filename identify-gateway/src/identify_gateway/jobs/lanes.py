"""Lanes (queues) and which task takes which: the one place where routing is decided.

| lane       | what runs there                                                   |
|------------|-------------------------------------------------------------------|
| `fast`     | short upkeep that must never wait behind identifications: ping, quota checks |
| `default`  | a job of one plant                                                |
| `slow`     | a batch job (several plants), retention (bulk deletes)            |
| `priority` | any job of a paying tier (`GATEWAY_PRIORITY_TIERS`)               |

Each lane is its own Redis list, so each can get its own workers (`celery … worker -Q priority`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

LANES = ("fast", "default", "slow", "priority")
DEFAULT_LANE = "default"

IDENTIFY_JOB = "identify_gateway.identify_job"
PING = "identify_gateway.ping"
CHECK_QUOTAS = "identify_gateway.check_quotas"
RETENTION = "identify_gateway.retention"
ACCOUNT_EVENTS = "identify_gateway.account_events"

# Every task with a fixed lane; jobs are routed by `job_lane` (tasks not listed run in `default`).
TASK_LANES: dict[str, str] = {
    PING: "fast",
    CHECK_QUOTAS: "fast",
    RETENTION: "slow",
    ACCOUNT_EVENTS: "fast",
}


def job_lane(tier: str | None, plants: int, *, priority_tiers: Collection[str]) -> str:
    """The lane of an identification job: paying tiers first, then batches apart from single photos."""
    if tier is not None and tier in priority_tiers:
        return "priority"
    return "slow" if plants > 1 else "default"


class LaneRouter:
    """Celery's `task_routes` entry: a task's queue from its name, and a job's from its `tier` and `plants`.

    Args:
        priority_tiers: token tiers whose jobs take the `priority` lane.
    """

    def __init__(self, priority_tiers: Collection[str]) -> None:
        self.priority_tiers = frozenset(priority_tiers)

    def __call__(self, name: str, args: Any, kwargs: Mapping[str, Any] | None, options: Any, task: Any = None, **_: Any) -> dict[str, str]:
        if name == IDENTIFY_JOB:
            kwargs = kwargs or {}
            return {"queue": job_lane(kwargs.get("tier"), int(kwargs.get("plants") or 1), priority_tiers=self.priority_tiers)}
        return {"queue": TASK_LANES.get(name, DEFAULT_LANE)}
