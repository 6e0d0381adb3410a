"""Each rule of `compose_rules` can fail: fed a broken copy of the compose file (or a Dockerfile), it says so."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.compose_rules.dockerfile import dockerfile_problems
from tests.compose_rules.dockerignore import dockerignore_patterns, is_ignored
from tests.compose_rules.edge import edge_problems, traefik_mount_problems, trusted_proxy_problems
from tests.compose_rules.fixtures import doc, static_config  # noqa: F401  (fixtures, used by name)
from tests.compose_rules.interpolation import MissingVariables, interpolate
from tests.compose_rules.load import DOCKERIGNORE, ROOT, TLS_OVERRIDE_FILE, Compose, load_compose_with, workspace_members
from tests.compose_rules.rules import (
    build_problems,
    depends_on_problems,
    healthcheck_problems,
    image_pin_problems,
    module_problems,
    non_root_problems,
    reference_problems,
    schema_problems,
    secret_problems,
)
from tests.compose_rules.settings import build_time_problems, settings_problems


def broken(doc: Compose) -> Compose:
    """A copy to break. Not deepcopy: YAML anchors make services share nested dicts, and deepcopy
    would keep them shared, so breaking one service would break them all."""
    return json.loads(json.dumps(doc))


def test_schema_check_catches_an_unknown_key_and_a_wrong_type(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["redis"]["helthcheck"] = {"test": ["CMD", "true"]}
    bad["services"]["traefik"]["ports"] = 80
    problems = schema_problems(bad)
    assert any(p.startswith("services/redis") for p in problems)
    assert any(p.startswith("services/traefik/ports") for p in problems)


def test_reference_check_catches_undeclared_names(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["cms"]["volumes"].append("cms-uploads:/app/uploads")
    bad["services"]["cms"]["networks"].append("backend")
    bad["services"]["cms"]["depends_on"]["search"] = {"condition": "service_started"}
    assert len(reference_problems(bad)) == 3


def test_build_check_catches_a_missing_dockerfile(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["cms"]["build"] = {"context": ".", "dockerfile": "cms/Dockerfile.prod"}
    assert any("cms/Dockerfile.prod" in p for p in build_problems(bad))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.replace("USER app\n", ""), "no USER"),
        (lambda t: t.replace("USER app\n", "USER root\n"), "non-root"),
        (lambda t: re.sub(r"HEALTHCHECK .*?\n(    CMD .*\n)", "", t), "no HEALTHCHECK"),
        (lambda t: t.replace("RUN pip install --no-cache-dir uv==0.13.9", "COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv"), "COPY --from=ghcr.io"),
        (lambda t: t.replace("--no-install-workspace", ""), "skip our own packages"),
        (lambda t: t.replace("COPY cms/pyproject.toml cms/\n", ""), "cms/pyproject.toml must be copied"),
        (lambda t: t.replace("COPY pyproject.toml uv.lock ./", "COPY . ."), "defeats the dependency layer"),
        (lambda t: t.replace("FROM python:3.11-slim\n", "FROM python:3.13\n"), "FROM python:3.13"),
        (lambda t: t.replace("--locked ", ""), "lacks --locked"),
    ],
)
def test_dockerfile_check_catches(mutate: Any, expected: str) -> None:
    text = mutate((ROOT / "auth-service" / "Dockerfile").read_text())
    problems = dockerfile_problems(text, package="auth-service", members=workspace_members(), service_dir="auth-service")
    assert any(expected in p for p in problems), problems


def test_healthcheck_check_catches_a_service_without_one(doc: Compose) -> None:
    bad = broken(doc)
    del bad["services"]["redis"]["healthcheck"]
    bad["services"]["auth-service"]["healthcheck"] = {"disable": True}
    bad["services"]["auth-migrate"]["restart"] = "unless-stopped"
    problems = healthcheck_problems(bad)
    assert any(p.startswith("redis:") for p in problems)
    assert any(p.startswith("auth-service:") for p in problems)
    assert any(p.startswith("auth-migrate:") for p in problems)


def test_healthcheck_check_catches_an_inherited_or_hollow_check(doc: Compose) -> None:
    # A process of its own on a service image keeps the image's HTTP probe, which it does not serve.
    bad = broken(doc)
    del bad["services"]["cms-reminders"]["healthcheck"]
    bad["services"]["gateway-worker"]["healthcheck"] = {"test": ["CMD-SHELL", "celery -A identify_gateway.worker inspect ping || true"]}
    bad["services"]["cms-account-events"]["healthcheck"] = {"test": ["CMD", "true"]}
    bad["services"]["redis"]["healthcheck"]["test"] = "exit 0"
    problems = healthcheck_problems(bad)
    assert any(p.startswith("cms-reminders: runs its own command but keeps the image's health check") for p in problems)
    assert any(p.startswith("gateway-worker: its health check cannot fail") for p in problems)
    assert any(p.startswith("cms-account-events: its health check cannot fail") for p in problems)
    assert any(p.startswith("redis: its health check cannot fail") for p in problems)
    # The image's own command with the image's check is fine, spelled out or not.
    fine = broken(doc)
    fine["services"]["cms"]["command"] = ["uvicorn", "plant_cms.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--timeout-keep-alive", "95"]
    assert healthcheck_problems(fine) == []


def test_depends_on_check_catches_waiting_for_a_start_only(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["cms"]["depends_on"] = ["postgres", "redis", "cms-setup"]
    bad["services"]["identify-gateway"]["depends_on"]["redis"]["condition"] = "service_started"
    del bad["services"]["auth-service"]["depends_on"]["postgres"]
    problems = depends_on_problems(bad)
    assert any(p.startswith("cms: depends on postgres with the short form") for p in problems)
    assert any(p.startswith("identify-gateway: depends on redis with service_started") for p in problems)
    assert any(p.startswith("auth-service: uses postgres but does not depend on it") for p in problems)
    # ...and waiting for health on a service that has no health check.
    del bad["services"]["redis"]["healthcheck"]
    assert any("redis has no health check" in p for p in depends_on_problems(bad))


def test_secret_check_catches_literals_and_defaults(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["cms"]["environment"]["CMS_SECRET_KEY"] = "s3cr3t-but-committed"
    bad["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD:-postgres}"
    bad["services"]["auth-service"]["environment"]["AUTH_DATABASE_URL"] = "postgresql+psycopg://auth:hunter2@postgres:5432/auth"
    bad["services"]["cms"]["environment"]["CMS_DATABASE_URL"] = "postgresql://cms:${CMS_DB_PASSWORD:-change me}@postgres:5432/cms"
    problems = secret_problems(bad)
    assert any("CMS_SECRET_KEY" in p for p in problems)
    assert any("POSTGRES_PASSWORD" in p for p in problems)
    assert any("AUTH_DATABASE_URL" in p for p in problems)
    assert any("CMS_DATABASE_URL" in p for p in problems)
    assert not any("hunter2" in p or "s3cr3t" in p for p in problems), "problems must not repeat the secret"


def test_edge_check_catches_exposure(doc: Compose, static_config: dict[str, Any] | None) -> None:
    bad = broken(doc)
    bad["services"]["cms"]["ports"] = ["8103:8000"]
    bad["services"]["traefik"]["command"] = ["--providers.docker=true"]
    bad["services"]["traefik"]["volumes"].append("/var/run/docker.sock:/var/run/docker.sock")
    problems = edge_problems(bad, static_config)
    assert any(p.startswith("cms: publishes ports") for p in problems)
    assert any("exposedByDefault=false exposes every container" in p for p in problems)
    assert any("Docker socket writable" in p for p in problems)
    assert any("providers.docker must set exposedByDefault" in p for p in edge_problems(doc, {"providers": {"docker": {}}}))
    spoofable = {"entryPoints": {"web": {"address": ":8000", "forwardedHeaders": {"insecure": True}}}}
    # The services believe X-Forwarded-For from Traefik's address only, and take its last hop (the
    # peer Traefik saw), which a client cannot forge: safe even then. Believing any peer is not.
    assert not any("passes clients' X-Forwarded-For on" in p for p in edge_problems(doc, spoofable))
    believer = broken(doc)
    believer["services"]["cms"]["environment"]["FORWARDED_ALLOW_IPS"] = "*"
    assert any("passes clients' X-Forwarded-For on" in p and "cms" in p for p in edge_problems(believer, spoofable))


def test_trusted_proxy_check_catches_trust_beyond_the_edge_and_a_loose_address(doc: Compose) -> None:
    edge_networks = doc["services"]["traefik"]["networks"]
    address = edge_networks["edge"]["ipv4_address"]
    # Trusting a whole network, or another address, or a setting that is no list of addresses.
    bad = broken(doc)
    bad["services"]["auth-service"]["environment"]["AUTH_TRUSTED_PROXIES"] = "172.28.0.0/24"
    bad["services"]["identify-gateway"]["environment"]["GATEWAY_TRUSTED_PROXIES"] = '["172.28.0.3"]'
    bad["services"]["cms"]["environment"]["FORWARDED_ALLOW_IPS"] = f"{address}, 10.0.0.0/8"
    bad["services"]["gateway-worker"]["environment"]["GATEWAY_TRUSTED_PROXIES"] = f"[{address}"
    problems = trusted_proxy_problems(bad)
    assert any(p.startswith("auth-service: AUTH_TRUSTED_PROXIES trusts 172.28.0.0/24") for p in problems)
    assert any(p.startswith("identify-gateway: GATEWAY_TRUSTED_PROXIES does not name traefik's fixed address") for p in problems)
    assert any(p.startswith("cms: FORWARDED_ALLOW_IPS trusts 10.0.0.0/8") for p in problems)
    assert any(p.startswith("gateway-worker: GATEWAY_TRUSTED_PROXIES=") and "not a list" in p for p in problems)
    # The edge's address: unknown, outside any subnet, inside the dynamic pool, or with no pool at all.
    for mutate, expected in (
        (lambda d: d["services"]["traefik"].update(networks=["edge"]), "has no fixed address"),
        (lambda d: d["networks"]["edge"].pop("ipam"), "lies in no ipam subnet"),
        (lambda d: d["services"]["traefik"]["networks"]["edge"].update(ipv4_address="172.28.0.200"), "inside edge's ip_range"),
        (lambda d: d["services"]["traefik"]["networks"]["edge"].update(ipv4_address="172.28.0.1"), "gateway"),
        (lambda d: d["networks"]["edge"]["ipam"]["config"][0].pop("ip_range"), "has no ip_range"),
    ):
        bad = broken(doc)
        mutate(bad)
        assert any(expected in p for p in trusted_proxy_problems(bad)), (expected, trusted_proxy_problems(bad))


def test_build_time_check_catches_a_setting_the_build_does_not_give(tmp_path: Path) -> None:
    text = (ROOT / "cms" / "Dockerfile").read_text()
    without = re.sub(r"^\s*CMS_DENYLIST_REDIS_URL=\S+ \\\n", "", text, flags=re.M)
    assert without != text
    problems = build_time_problems(without, "cms/Dockerfile", tmp_path)
    assert len(problems) == 1 and "collectstatic" in problems[0] and "CMS_DENYLIST_REDIS_URL" in problems[0]


def test_traefik_mount_check_catches_missing_mounts(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["traefik"]["volumes"] = [v for v in bad["services"]["traefik"]["volumes"] if "/dynamic" not in v and "plugins-local" not in v]
    bad["services"]["traefik"]["environment"].pop("STATIC_URL")
    bad["services"]["traefik"]["environment"]["CMS_URL"] = "http://cms:8103"
    bad["services"]["traefik"]["ports"] = ["8080:8080"]
    problems = traefik_mount_problems(bad)
    if not (ROOT / "deploy" / "traefik" / "traefik.yml").is_file():
        pytest.skip("deploy/traefik/traefik.yml is not written yet")
    assert any("providers.file.directory" in p for p in problems)
    assert any("local plugin" in p for p in problems)
    # With the dynamic directory gone, its variables can no longer be read: check them with it back.
    bad["services"]["traefik"]["volumes"] = doc["services"]["traefik"]["volumes"]
    problems = traefik_mount_problems(bad)
    assert any("STATIC_URL" in p for p in problems)
    assert any("CMS_URL uses port 8103" in p for p in problems)
    assert any("internal entry point" in p for p in problems)
    bad["services"]["traefik"]["command"] = ["--configFile=/etc/traefik/other.yml"]
    assert any("not mounted" in p for p in traefik_mount_problems(bad))


def test_traefik_mount_check_catches_an_edge_setting_no_template_reads(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["traefik"]["environment"]["EDGE_CORS_ORIGIN"] = "https://app.example.org"  # the variable is ..._ORIGINS
    assert any("EDGE_CORS_ORIGIN," in p for p in traefik_mount_problems(bad))


def test_traefik_mount_check_catches_the_benchmarks_route_switched_on(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["traefik"]["environment"]["BENCH_BASELINE_URL"] = "http://identify-gateway:8000"
    assert any("BENCH_BASELINE_URL only where it is set" in p for p in traefik_mount_problems(bad))
    assert not any("BENCH_BASELINE_URL" in p for p in traefik_mount_problems(doc))


def test_non_root_check_catches_a_root_edge(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["traefik"]["user"] = "0:0"
    bad["services"]["nginx"]["image"] = "nginx:1.28-alpine"
    assert [p.split(":")[0] for p in non_root_problems(bad)] == ["traefik", "nginx"]


def test_non_root_check_allows_root_only_to_a_volume_ownership_job() -> None:
    merged = load_compose_with(TLS_OVERRIDE_FILE)
    assert non_root_problems(merged) == []  # compose.tls.yaml's traefik-acme-init: CHOWN only, no network
    for mutate in (
        lambda job: job["cap_add"].append("NET_ADMIN"),
        lambda job: job.pop("network_mode"),
        lambda job: job.update(restart="unless-stopped", cap_drop=[]),
    ):
        bad = broken(merged)
        mutate(bad["services"]["traefik-acme-init"])
        assert [p.split(":")[0] for p in non_root_problems(bad)] == ["traefik-acme-init"]


def test_settings_check_catches_a_missing_or_insecure_setting(doc: Compose) -> None:
    bad = broken(doc)
    del bad["services"]["auth-service"]["environment"]["AUTH_KEY_ENCRYPTION_KEY"]
    bad["services"]["identify-gateway"]["environment"]["GATEWAY_DEBUG"] = "true"
    problems = settings_problems(bad, only={"auth-service", "identify-gateway"})
    assert [p.split(":")[0] for p in problems] == ["auth-service", "identify-gateway"]


def test_interpolation_follows_the_compose_rules() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${SET:+alt} ${UNSET+alt}", env) == "$SET value value d d  alt "
    with pytest.raises(MissingVariables, match="EMPTY: needed"):
        interpolate({"a": ["${EMPTY:?needed}"]}, env)
    assert interpolate("${EMPTY?only-if-unset}", env) == ""


def test_module_check_catches_a_typo(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["gateway-worker"]["command"] = ["celery", "-A", "identify_gateway.workers", "worker"]
    assert any("identify_gateway.workers" in p for p in module_problems(bad))


def test_image_pin_check_catches_latest_and_old_traefik(doc: Compose) -> None:
    bad = broken(doc)
    bad["services"]["redis"]["image"] = "redis"
    bad["services"]["traefik"]["image"] = "traefik:v3.2"
    problems = image_pin_problems(bad)
    assert any(p.startswith("redis:") for p in problems)
    assert any("v3.4 or later" in p for p in problems)


def test_dockerignore_check_catches_an_overbroad_pattern() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text() + "\n**/core\n")
    assert is_ignored("cms/src/plant_cms/core/probes.py", patterns)
    assert not is_ignored("cms/src/plant_cms/core/probes.py", dockerignore_patterns(DOCKERIGNORE.read_text()))
