"""A real Prometheus (Debian's binary) scrapes the running test stack with deploy/prometheus's rules and
a copy of its configuration pointed at the stack's ports; its HTTP API shows the key series exist."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from devstack.processes import stop_popen
import yaml

from tests.observability.support import ALERTS, DASHBOARD, PROMETHEUS_DIR, TRAEFIK_METRICS, metric_names

# Prometheus job -> the stack variable holding that target's base URL.
TARGETS = {
    "auth-service": "PLATFORM_AUTH_URL",
    "identify-gateway": "PLATFORM_GATEWAY_URL",
    "cms": "PLATFORM_CMS_URL",
    "traefik": "PLATFORM_EDGE_INTERNAL_URL",
}
START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _address(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


class Prometheus:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.base_url}{path}{query}", timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=promql)["result"]


@pytest.fixture(scope="module")
def prometheus(prometheus_binary: str, stack_env: Callable[[str], str], edge_url: str) -> Iterator[Prometheus]:
    # Traffic first, so that every service has counted requests and Traefik has routed some.
    with httpx.Client(base_url=edge_url, timeout=10) as edge:
        for path in ("/api/v1/auth/health/", "/api/v1/plant-identification/identify/health/", "/api/v2/pages/", "/api/v1/auth/docs"):
            edge.get(path)
    base = Path(tempfile.mkdtemp(prefix="prometheus-e2e-"))
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
    config["rule_files"] = [str(ALERTS)]
    # The same jobs as in compose, at the stack's addresses.
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == set(TARGETS), "deploy/prometheus/prometheus.yml and this test name different jobs"
    config["scrape_configs"] = [{"job_name": job, "static_configs": [{"targets": [_address(stack_env(variable))]}]}
                                for job, variable in TARGETS.items()]
    (base / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (base / "prometheus.log").open("w")
    process = subprocess.Popen(
        [prometheus_binary, f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={base / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if server.get("/api/v1/targets")["activeTargets"]:
                    up = {r["metric"]["job"]: r["value"][1] for r in server.query("up")}
                    if set(up) == set(TARGETS):
                        break
            except (OSError, AssertionError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not scrape every target in {START_TIMEOUT:.0f}s:\n{(base / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        stop_popen(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def test_every_target_is_up(prometheus: Prometheus) -> None:
    up = {r["metric"]["job"]: r["value"][1] for r in prometheus.query("up")}

    assert up == {job: "1" for job in TARGETS}, prometheus.get("/api/v1/targets")


def test_each_service_counts_its_requests(prometheus: Prometheus) -> None:
    services = {r["metric"]["service"] for r in prometheus.query("sum by (service) (http_requests_total)")}

    assert {"auth-service", "identify-gateway", "cms"} <= services
    assert prometheus.query('http_request_duration_seconds_bucket{service="cms",le="+Inf"}')


def test_traefik_counts_requests_per_entry_point_and_service(prometheus: Prometheus) -> None:
    entry_points = {r["metric"]["entrypoint"] for r in prometheus.query("traefik_entrypoint_requests_total")}
    services = {r["metric"]["service"] for r in prometheus.query("traefik_service_requests_total")}

    assert "web" in entry_points
    assert {"auth@file", "gateway@file", "cms@file"} <= services


def test_the_gateway_reports_its_breakers(prometheus: Prometheus) -> None:
    engines = {r["metric"]["engine"]: r["value"][1] for r in prometheus.query("gateway_breaker_state")}

    assert {"plant_id", "plantnet"} <= set(engines)
    assert set(engines.values()) <= {"0", "1", "2"}


def test_the_traefik_series_the_dashboard_and_alerts_read_exist(prometheus: Prometheus) -> None:
    used = set()
    for expr in [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel.get("targets", [])]:
        used |= metric_names(expr)
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            used |= metric_names(rule["expr"])
    traefik = used & TRAEFIK_METRICS
    assert traefik
    names = set(prometheus.get("/api/v1/label/__name__/values"))
    assert traefik <= names, traefik - names


def test_prometheus_loaded_every_alert_rule(prometheus: Prometheus) -> None:
    loaded = {rule["name"] for group in prometheus.get("/api/v1/rules")["groups"] for rule in group["rules"]}
    expected = {rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]}

    assert loaded == expected
    health = {rule["name"]: rule["health"] for group in prometheus.get("/api/v1/rules")["groups"] for rule in group["rules"]}
    assert set(health.values()) <= {"ok", "unknown"}, health
