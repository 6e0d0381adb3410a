"""The Grafana dashboard (deploy/grafana/dashboards/platform.json): valid JSON of a current schema,
well-formed panels, every query valid PromQL (promtool) reading only metrics the services or Traefik
export."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.support import DASHBOARD, known_metrics, metric_names

# What issue 7 asks the dashboard to show, by a metric each such panel must read.
REQUIRED = {
    "request rate": "http_requests_total",
    "p95 latency per route": "http_request_duration_seconds_bucket",
    "breaker state": "gateway_breaker_state",
    "quota left": "gateway_engine_quota_remaining",
    "cache hit rate": "gateway_cache_hits_total",
    "lock waits/timeouts": "gateway_lock_events_total",
    "Celery queue depth": "gateway_celery_queue_depth",
    "Traefik overhead (edge)": "traefik_entrypoint_request_duration_seconds_bucket",
    "Traefik overhead (service)": "traefik_service_request_duration_seconds_bucket",
}


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in load()["panels"] if panel["type"] != "row"]


def exprs() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_the_dashboard_is_a_current_grafana_dashboard() -> None:
    dashboard = load()

    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("panel", panels(), ids=[p["title"] for p in panels()])
def test_every_panel_is_placed_described_and_queries_the_chosen_prometheus(panel: dict[str, Any]) -> None:
    grid = panel["gridPos"]
    assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
    assert panel["description"]
    assert panel["targets"]
    for target in [panel, *panel["targets"]]:
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


def test_panels_do_not_overlap() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in load()["panels"]:
        grid = panel["gridPos"]
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


@pytest.mark.parametrize("expr", exprs())
def test_every_query_reads_metrics_the_platform_exports(expr: str) -> None:
    used = metric_names(expr)

    assert used, expr
    assert used <= known_metrics(), used - known_metrics()


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    used = set().union(*(metric_names(expr) for expr in exprs()))
    missing = {what: metric for what, metric in REQUIRED.items() if metric not in used}
    assert not missing
    five_xx = [expr for expr in exprs() if '5..' in expr]
    assert five_xx, "no 5xx panel"


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # Each query as a recording rule, Grafana's $__rate_interval as a fixed range: promtool parses all.
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")} for i, expr in enumerate(exprs())]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
