"""The production TLS override (compose.tls.yaml) applied on compose.yaml: the same rules as the base
file hold for the merged file, and the Traefik it describes starts, redirects to HTTPS, sends HSTS
there and keeps its ACME storage in the volume its set-up job hands over."""

from __future__ import annotations

import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.compose_rules.edge import edge_problems, traefik_mount_problems, trusted_proxy_problems
from tests.compose_rules.interpolation import MissingVariables, interpolate, placeholder_env
from tests.compose_rules.load import TLS_OVERRIDE_FILE, Compose, load_compose, load_compose_with
from tests.compose_rules.readers import command_args, container_to_host, environment, mounts, published_container_ports, services, traefik_service
from tests.compose_rules.rules import (
    bind_mount_problems,
    depends_on_problems,
    healthcheck_problems,
    image_pin_problems,
    non_root_problems,
    reference_problems,
    schema_problems,
    secret_problems,
)
from tests.compose_rules.traefik_runtime import traefik_as_in_compose, traefik_binary


@pytest.fixture(scope="module")
def merged() -> Compose:
    return load_compose_with(TLS_OVERRIDE_FILE)


@pytest.fixture(scope="module")
def tls_static(merged: Compose) -> dict[str, Any]:
    _, svc = traefik_service(merged)  # type: ignore[misc]
    config = next(arg.split("=", 1)[1] for arg in command_args(svc) if arg.lower().startswith("--configfile="))
    found = container_to_host(svc, config)
    assert found is not None, f"{config} is not mounted"
    return yaml.safe_load(found[0].read_text())


def test_the_override_and_the_merged_file_match_the_compose_specification(merged: Compose) -> None:
    assert schema_problems(load_compose(TLS_OVERRIDE_FILE)) == []
    assert schema_problems(merged) == []
    assert schema_problems(interpolate(merged, placeholder_env(merged))) == []


def test_tls_needs_the_domain(merged: Compose) -> None:
    with pytest.raises(MissingVariables) as refused:
        interpolate(merged, {})
    assert "EDGE_TLS_DOMAIN" in {error.split(":")[0] for error in refused.value.errors}


def test_the_merged_file_keeps_the_platform_rules(merged: Compose, tls_static: dict[str, Any]) -> None:
    assert reference_problems(merged) == []
    assert healthcheck_problems(merged) == []
    assert depends_on_problems(merged) == []
    assert secret_problems(merged) == []
    assert bind_mount_problems(merged) == []
    assert image_pin_problems(merged) == []
    assert non_root_problems(merged) == []
    assert edge_problems(merged, tls_static) == []
    assert traefik_mount_problems(merged) == []
    assert trusted_proxy_problems(merged) == []


def test_the_edge_publishes_http_and_https_and_the_tls_static_file_is_used(merged: Compose, tls_static: dict[str, Any]) -> None:
    _, traefik = traefik_service(merged)  # type: ignore[misc]
    assert sorted(published_container_ports(traefik)) == [8000, 8443]
    assert tls_static["entryPoints"]["websecure"]["address"] == ":8443"
    assert tls_static["entryPoints"]["web"]["address"] == ":8000"
    # The health check reads the same static file as the process.
    assert traefik["healthcheck"]["test"][-1] == next(a for a in command_args(traefik) if a.startswith("--configFile="))


def test_acme_storage_is_in_a_volume_the_set_up_job_hands_to_traefik(merged: Compose, tls_static: dict[str, Any]) -> None:
    _, traefik = traefik_service(merged)  # type: ignore[misc]
    storage = tls_static["certificatesResolvers"]["letsencrypt"]["acme"]["storage"]
    volume = next(m for m in mounts(traefik) if storage.startswith(m["target"].rstrip("/") + "/"))
    assert volume["type"] == "volume" and not volume["read_only"]
    # The job that owns it: mounts the same volume, runs before Traefik, gives it Traefik's user.
    init_name, init = next((n, s) for n, s in services(merged).items() if n != "traefik" and any(m["source"] == volume["source"] for m in mounts(s)))
    assert traefik["depends_on"][init_name]["condition"] == "service_completed_successfully"
    script = " ".join(command_args(init))
    uid, _, gid = str(traefik["user"]).partition(":")
    assert re.search(rf"chown {uid}:{gid} {re.escape(volume['target'])}\b", script), script
    assert init["network_mode"] == "none" and init["cap_add"] == ["CHOWN"]


def test_the_tls_domain_reaches_the_dynamic_configuration(merged: Compose) -> None:
    _, traefik = traefik_service(merged)  # type: ignore[misc]
    env = interpolate(environment(traefik), {**placeholder_env(merged), "EDGE_TLS_DOMAIN": "plants.example.org"})
    assert env["EDGE_TLS_DOMAIN"] == "plants.example.org"
    found = container_to_host(traefik, "/dynamic/tls.yml")
    assert found is not None and 'env "EDGE_TLS_DOMAIN"' in found[0].read_text()


@pytest.fixture(scope="module")
def tls_traefik(merged: Compose) -> Iterator[dict[str, Any]]:
    # Without a domain: nothing is requested from Let's Encrypt (unreachable here); the merged file
    # requires one, so the test gives it empty, as the template treats an unset one.
    doc = interpolate(merged, {**placeholder_env(merged), "EDGE_TLS_DOMAIN": " "})
    doc["services"]["traefik"]["environment"]["EDGE_TLS_DOMAIN"] = ""
    with traefik_as_in_compose(doc) as edge:
        yield edge


def test_traefik_starts_from_the_tls_mounts(tls_traefik: dict[str, Any]) -> None:
    log = tls_traefik["log"].read_text()
    assert '"level":"error"' not in log and '"level":"fatal"' not in log, log[-3000:]


def test_http_redirects_and_https_sends_hsts(tls_traefik: dict[str, Any]) -> None:
    ports = tls_traefik["ports"]
    request = urllib.request.Request(f"http://127.0.0.1:{ports['web']}/api/v2/pages/")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=5)
        pytest.fail("no redirect")
    except urllib.error.HTTPError as redirect:
        assert redirect.code in (301, 308)
        assert redirect.headers["Location"].startswith("https://")
    context = ssl._create_unverified_context()  # Traefik's self-signed default certificate
    with pytest.raises(urllib.error.HTTPError) as answer:  # the (closed) CMS: the edge's own 502
        urllib.request.urlopen(f"https://127.0.0.1:{ports['websecure']}/api/v2/pages/", context=context, timeout=5)
    assert answer.value.code == 502
    assert answer.value.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_tls_health_check_command_passes(merged: Compose, tls_traefik: dict[str, Any]) -> None:
    _, svc = traefik_service(merged)  # type: ignore[misc]
    assert svc["healthcheck"]["test"][:3] == ["CMD", "traefik", "healthcheck"]
    argv = tls_traefik["argv"]
    command = [*argv[: argv.index(traefik_binary() or "traefik") + 1], "healthcheck", argv[-1]]
    result = subprocess.run(command, cwd=tls_traefik["workdir"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
