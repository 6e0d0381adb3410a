"""The Prometheus configuration and alert rules, checked by the real promtool: syntax, the unit tests
in deploy/prometheus/tests/ (input series -> expected alerts), and what every alert must carry."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.support import ALERTS, PROMETHEUS_DIR, doc_anchors, known_metrics, metric_names

UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
# What issue 7 asks the rules to cover, by alert name.
REQUIRED_ALERTS = {
    "EngineBreakerOpen",  # a breaker open more than 5 minutes
    "EngineQuotaLow",  # an engine quota above 80%
    "LockTimeoutRate",  # lock timeout rate above 5%
    "HighServerErrorRate",  # 5xx rate above 1%
    "UnauthorizedSpike", "ThrottlingSpike",  # 401/429 spikes
    "CeleryQueueBacklog",  # Celery queue depth
    "HighLatencyP95",  # p95 latency per route
}


def run(argv: list[str], cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run([promtool, "check", "rules", ALERTS.name])

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_accepts_the_configuration_and_the_rules_it_loads(promtool: str) -> None:
    result = run([promtool, "check", "config", "prometheus.yml"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=[p.name for p in UNIT_TESTS])
def test_the_rules_unit_tests_pass(promtool: str, unit_test: Path) -> None:
    result = run([promtool, "test", "rules", str(unit_test.relative_to(PROMETHEUS_DIR))])

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    # The same machinery, fed an expectation the rules do not meet, says so.
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text())
    (tmp_path / "wrong.yml").write_text(yaml.safe_dump({
        "rule_files": ["alerts.yml"], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [{"series": 'gateway_breaker_state{engine="plantnet"}', "values": "2x10"}],
                   "alert_rule_test": [{"eval_time": "10m", "alertname": "EngineBreakerOpen", "exp_alerts": []}]}],
    }))

    result = run([promtool, "test", "rules", "wrong.yml"], cwd=tmp_path)

    assert result.returncode != 0 and "EngineBreakerOpen" in result.stdout + result.stderr


def test_the_issue_s_alerts_exist_and_each_is_unit_tested_firing() -> None:
    names = {rule["alert"] for rule in rules()}
    assert REQUIRED_ALERTS <= names
    fired = set()
    for unit_test in UNIT_TESTS:
        for case in yaml.safe_load(unit_test.read_text())["tests"]:
            fired |= {check["alertname"] for check in case.get("alert_rule_test", []) if check.get("exp_alerts")}
    assert names - fired == set(), "alerts without a promtool test that makes them fire"


@pytest.mark.parametrize("rule", rules(), ids=[rule["alert"] for rule in rules()])
def test_every_alert_says_how_bad_what_and_where_the_runbook_is(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    page, _, anchor = annotations["runbook"].partition("#")
    assert page == "docs/operations.md" and anchor in doc_anchors(), f"no section #{anchor} in docs/operations.md"


@pytest.mark.parametrize("rule", rules(), ids=[rule["alert"] for rule in rules()])
def test_every_alert_reads_metrics_the_platform_exports(rule: dict[str, Any]) -> None:
    used = metric_names(rule["expr"])

    assert used, rule["expr"]
    assert used <= known_metrics(), used - known_metrics()
