"""Helpers of the observability tests: where the files are, which metric names exist, and the metric
names a PromQL expression uses."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "platform.json"
OPERATIONS = ROOT / "docs" / "operations.md"
SOURCES = [ROOT / "shared" / "src", ROOT / "auth-service" / "src", ROOT / "identify-gateway" / "src", ROOT / "cms" / "src"]

# Series Traefik exports on its internal entry point (with addEntryPointsLabels/addServicesLabels);
# test_prometheus_scrape.py checks against a running Traefik that the ones used here exist.
TRAEFIK_METRICS = {
    "traefik_entrypoint_requests_total",
    "traefik_entrypoint_request_duration_seconds_bucket",
    "traefik_entrypoint_request_duration_seconds_sum",
    "traefik_entrypoint_request_duration_seconds_count",
    "traefik_router_requests_total",
    "traefik_service_requests_total",
    "traefik_service_request_duration_seconds_bucket",
    "traefik_service_request_duration_seconds_sum",
    "traefik_service_request_duration_seconds_count",
}
PROMETHEUS_METRICS = {"up"}

_DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*[\"']([a-zA-Z_:][a-zA-Z0-9_:]*)[\"']")
_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "inf", "nan",
}


def exported_metrics() -> set[str]:
    """Every series name the services' prometheus_client declarations expose."""
    names: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for kind, name in _DECLARATION.findall(path.read_text(errors="replace")):
                if kind == "Counter":
                    base = name.removesuffix("_total")
                    names |= {f"{base}_total", f"{base}_created"}
                elif kind in ("Histogram", "Summary"):
                    names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created", name}
                else:
                    names.add(name)
    return names


def known_metrics() -> set[str]:
    return exported_metrics() | TRAEFIK_METRICS | PROMETHEUS_METRICS


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (strings, label matchers, grouping labels, function
    names and durations removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)  # label lists
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\$\w+", "", text)  # dashboard variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def doc_anchors(path: Path = OPERATIONS) -> set[str]:
    return {github_anchor(m[1]) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", path.read_text(), re.MULTILINE)}
