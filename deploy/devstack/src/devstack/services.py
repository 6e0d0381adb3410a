"""The platform's processes as the local stack runs them: environment, commands, readiness.

This module is the process contract of docs/architecture.md in code; compose.yaml mirrors it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.layout import REPO_ROOT, TRAEFIK_DIR, Profile
from devstack.processes import Process, Supervisor, wait_until
from devstack.servers import Postgres, Redis

PY = sys.executable

GATEWAY_CLIENT_ID = "identify-gateway"

DEMO_ACCOUNTS = (
    # (email, role, display name, secret holding the password)
    ("editor@demo.plant.community", "editor", "Demo Editor", "demo_editor_password"),
    ("member@demo.plant.community", "member", "Demo Member", "demo_member_password"),
)


@dataclass(frozen=True)
class Ports:
    auth: int
    gateway: int
    cms: int
    standin: int

    @classmethod
    def of(cls, profile: Profile) -> "Ports":
        return cls(auth=profile.port(8101), gateway=profile.port(8102), cms=profile.port(8103), standin=profile.port(8104))


def environments(profile: Profile, pg: Postgres, redis: Redis, secrets: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each process's own variables (on top of the inherited environment)."""
    ports = Ports.of(profile)
    common = {"PYTHONUNBUFFERED": "1"}
    return {
        "auth": {
            **common,
            "AUTH_ENVIRONMENT": "development",
            "AUTH_DATABASE_URL": pg.url("auth", secrets["postgres_auth_password"], driver="psycopg"),
            "AUTH_REDIS_URL": f"{redis.url}/0",
            "AUTH_DENYLIST_REDIS_URL": f"{redis.url}/4",
            "AUTH_KEY_ENCRYPTION_KEY": secrets["auth_key_encryption_key"],
            "AUTH_PUBLIC_BASE_URL": profile.edge_url,
            # Mail lands in a file: tests read password-reset links from it.
            "AUTH_MAIL_BACKEND": "file",
            "AUTH_MAIL_FILE_PATH": str(profile.data_dir / "mail.jsonl"),
        },
        "gateway": {
            **common,
            "GATEWAY_ENVIRONMENT": "development",
            "GATEWAY_DATABASE_URL": pg.url("gateway", secrets["postgres_gateway_password"], driver="psycopg"),
            "GATEWAY_REDIS_URL": f"{redis.url}/1",
            "GATEWAY_CELERY_BROKER_URL": f"{redis.url}/2",
            "GATEWAY_PLANT_ID_BASE_URL": f"http://127.0.0.1:{ports.standin}/api/v3",
            "GATEWAY_PLANT_ID_API_KEY": secrets["plant_id_api_key"],
            "GATEWAY_PLANTNET_BASE_URL": f"http://127.0.0.1:{ports.standin}/v2",
            "GATEWAY_PLANTNET_API_KEY": secrets["plantnet_api_key"],
            "GATEWAY_GBIF_BASE_URL": f"http://127.0.0.1:{ports.standin}/v1",
            # Tokens: verified locally against the auth service's JWKS and the shared deny-list.
            "GATEWAY_JWKS_URL": f"http://127.0.0.1:{ports.auth}/.well-known/jwks.json",
            "GATEWAY_DENYLIST_REDIS_URL": f"{redis.url}/4",
            # Service-to-service: the gateway asks the CMS for species pages with a client-credentials token.
            "GATEWAY_AUTH_SERVICE_URL": f"http://127.0.0.1:{ports.auth}",
            "GATEWAY_SERVICE_CLIENT_ID": GATEWAY_CLIENT_ID,
            "GATEWAY_SERVICE_CLIENT_SECRET": secrets["gateway_client_secret"],
            "GATEWAY_CMS_INTERNAL_URL": f"http://127.0.0.1:{ports.cms}",
        },
        "cms": {
            **common,
            "DJANGO_SETTINGS_MODULE": "plant_cms.settings.dev",
            "CMS_DATABASE_URL": pg.url("cms", secrets["postgres_cms_password"]),
            "CMS_REDIS_URL": f"{redis.url}/3",
            "CMS_SECRET_KEY": secrets["cms_secret_key"],
            "CMS_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "CMS_STATIC_ROOT": str(profile.data_dir / "static"),
            "CMS_MEDIA_ROOT": str(profile.data_dir / "media"),
            "CMS_PUBLIC_BASE_URL": profile.edge_url,
            "CMS_JWKS_URL": f"http://127.0.0.1:{ports.auth}/.well-known/jwks.json",
            "CMS_DENYLIST_REDIS_URL": f"{redis.url}/4",
            # Editors sign in to /cms/ with their platform password, checked by the auth service.
            "CMS_AUTH_SERVICE_URL": f"http://127.0.0.1:{ports.auth}",
            # Care reminders land in a file: tests read them from there.
            "CMS_NOTIFICATION_BACKEND": "file",
            "CMS_NOTIFICATION_FILE_PATH": str(profile.data_dir / "notifications.jsonl"),
        },
        "standin": {
            **common,
            "STANDIN_PLANT_ID_API_KEY": secrets["plant_id_api_key"],
            "STANDIN_PLANTNET_API_KEY": secrets["plantnet_api_key"],
        },
        "edge": {
            "AUTH_SERVICE_URL": f"http://127.0.0.1:{ports.auth}",
            "GATEWAY_URL": f"http://127.0.0.1:{ports.gateway}",
            "CMS_URL": f"http://127.0.0.1:{ports.cms}",
            # Locally the CMS serves its own static files (WhiteNoise) and media; nginx does in compose.
            "STATIC_URL": f"http://127.0.0.1:{ports.cms}",
        },
    }


def _run_step(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
    log_path = log_dir / f"setup-{name}.log"
    with open(log_path, "wb") as log:
        result = subprocess.run(argv, env={**os.environ, **env}, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"set-up step {name!r} failed (exit {result.returncode}); see {log_path}:\n{tail}")


def _run_parallel(steps: list[tuple[str, list[str], dict[str, str]]], log_dir: Path) -> None:
    with ThreadPoolExecutor(len(steps)) as pool:
        for future in [pool.submit(_run_step, name, argv, env, log_dir) for name, argv, env in steps]:
            future.result()


def set_up(profile: Profile, envs: dict[str, dict[str, str]], secrets: dict[str, str]) -> None:
    """Migrations and static files, then the data that needs them; each phase's steps in parallel
    (they touch different databases or different rows). Idempotent."""
    profile.log_dir.mkdir(parents=True, exist_ok=True)
    _run_parallel([
        ("auth-migrate", [PY, "-m", "auth_service.cli", "migrate"], envs["auth"]),
        ("gateway-migrate", [PY, "-m", "identify_gateway.cli", "migrate"], envs["gateway"]),
        ("cms-migrate", [PY, "-m", "django", "migrate", "--noinput"], envs["cms"]),
        ("cms-collectstatic", [PY, "-m", "django", "collectstatic", "--noinput", "-v", "0"], envs["cms"]),
    ], profile.log_dir)
    create_user = [PY, "-m", "auth_service.cli", "create-user", "--password-env", "DEMO_PASSWORD"]
    _run_parallel([
        # Demo species and posts; image sizes are rendered on first request, not up front.
        ("cms-demo-content", [PY, "-m", "django", "load_demo_content", "--no-renditions"], envs["cms"]),
        (
            "gateway-service-client",
            [PY, "-m", "auth_service.cli", "create-service-client", "--client-id", GATEWAY_CLIENT_ID, "--audience", "cms", "--secret-env", "CLIENT_SECRET"],
            {**envs["auth"], "CLIENT_SECRET": secrets["gateway_client_secret"]},
        ),
        *(
            (f"demo-{role}", [*create_user, "--email", email, "--role", role, "--display-name", display_name], {**envs["auth"], "DEMO_PASSWORD": secrets[secret]})
            for email, role, display_name, secret in DEMO_ACCOUNTS
        ),
    ], profile.log_dir)


def _uvicorn(app: str, port: int) -> list[str]:
    return [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--timeout-graceful-shutdown", "5"]


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def start_services(profile: Profile, envs: dict[str, dict[str, str]], supervisor: Supervisor, traefik_config: Path) -> None:
    """Start every application process and the edge, then wait until each one is ready."""
    ports = Ports.of(profile)
    log = profile.log_dir
    base = dict(os.environ)
    web = [
        ("auth-service", _uvicorn("auth_service.main:app", ports.auth), envs["auth"], ports.auth, "/readyz"),
        ("identify-gateway", _uvicorn("identify_gateway.main:app", ports.gateway), envs["gateway"], ports.gateway, "/readyz"),
        # Django's ASGI handler has no lifespan support; say so instead of letting uvicorn probe.
        ("cms", [*_uvicorn("plant_cms.asgi:application", ports.cms), "--lifespan", "off"], envs["cms"], ports.cms, "/readyz"),
        ("provider-standin", _uvicorn("devstack.provider_standin.app:app", ports.standin), envs["standin"], ports.standin, "/livez"),
    ]
    for name, argv, env, _, _ in web:
        supervisor.start(Process(name=name, argv=argv, env={**base, **env}, cwd=REPO_ROOT, log_path=log / f"{name}.log"))
    worker_env = {**base, **envs["gateway"]}
    supervisor.start(Process(
        name="gateway-worker",
        argv=[PY, "-m", "celery", "-A", "identify_gateway.worker", "worker", "--loglevel", "INFO",
              "--concurrency", "2", "-Q", "fast,default,slow,priority", "--hostname", f"gateway-{profile.name}@%h"],
        env=worker_env, cwd=REPO_ROOT, log_path=log / "gateway-worker.log",
    ))
    # Scheduled upkeep (engine quota check, retention), sent to the worker's lanes. One beat per stack.
    supervisor.start(Process(
        name="gateway-beat",
        argv=[PY, "-m", "celery", "-A", "identify_gateway.worker", "beat", "--loglevel", "INFO",
              "--schedule", str(profile.data_dir / "celerybeat-schedule")],
        env=worker_env, cwd=REPO_ROOT, log_path=log / "gateway-beat.log",
    ))
    cms_env = {**base, **envs["cms"]}
    # The CMS's background work: erase a deleted account's garden; send care reminders every 15 min.
    for name, argv in (
        ("cms-account-events", [PY, "-m", "django", "consume_account_events"]),
        ("cms-reminders", [PY, "-m", "django", "send_care_reminders", "--every", "900"]),
    ):
        supervisor.start(Process(name=name, argv=argv, env=cms_env, cwd=REPO_ROOT, log_path=log / f"{name}.log"))
    supervisor.start(Process(
        name="traefik",
        argv=[str(Path(PY).parent / "traefik"), f"--configFile={traefik_config}"],
        env={**base, **envs["edge"]}, cwd=TRAEFIK_DIR, log_path=log / "traefik.log",
    ))
    for name, _, _, port, path in web:
        wait_until(lambda port=port, path=path: _http_ok(f"http://127.0.0.1:{port}{path}"), what=name, timeout=90, supervisor=supervisor)
    # /ping answers before the routes are loaded; a routed path answering 200 proves both.
    wait_until(lambda: _http_ok(f"http://127.0.0.1:{profile.edge_port}/api/v1/auth/health/"), what="traefik routes", timeout=30, supervisor=supervisor)
    wait_until(
        lambda: subprocess.run([PY, "-m", "celery", "-A", "identify_gateway.worker", "inspect", "ping", "--timeout", "2"],
                               env=worker_env, cwd=REPO_ROOT, capture_output=True).returncode == 0,
        what="gateway-worker", timeout=90, supervisor=supervisor, interval=1.0,
    )
