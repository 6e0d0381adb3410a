"""The platform's processes as the local stack runs them: environment, commands, readiness.

This module is the process contract of docs/architecture.md in code; compose.yaml mirrors it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from celery import Celery

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
    # Further gateway replicas (profile.gateway_replicas - 1 of them): 8112, 8122, …
    gateway_replicas: tuple[int, ...] = ()

    @classmethod
    def of(cls, profile: Profile) -> "Ports":
        extra = tuple(profile.port(8102 + 10 * i) for i in range(1, profile.gateway_replicas))
        return cls(auth=profile.port(8101), gateway=profile.port(8102), cms=profile.port(8103), standin=profile.port(8104), gateway_replicas=extra)

    @property
    def gateways(self) -> tuple[int, ...]:
        return (self.gateway, *self.gateway_replicas)


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
            # Decoded photos (> 1 MB) go back to the kernel when freed, as in compose.yaml.
            "MALLOC_MMAP_THRESHOLD_": "1048576",
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
            # The other replicas, if any (deploy/traefik/dynamic/routes.yml).
            "GATEWAY_EXTRA_URLS": ",".join(f"http://127.0.0.1:{port}" for port in ports.gateway_replicas),
            "CMS_URL": f"http://127.0.0.1:{ports.cms}",
            # Locally the CMS serves its own static files (WhiteNoise) and media; nginx does in compose.
            "STATIC_URL": f"http://127.0.0.1:{ports.cms}",
            # The bench profile's baseline app behind the same edge (routes.yml; empty: no route).
            "BENCH_BASELINE_URL": f"http://127.0.0.1:{profile.bench_baseline_port}" if profile.bench_baseline_port else "",
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


def migrate(profile: Profile, envs: dict[str, dict[str, str]]) -> None:
    """Migrations and static files, in parallel (one database each). Idempotent."""
    profile.log_dir.mkdir(parents=True, exist_ok=True)
    _run_parallel([
        ("auth-migrate", [PY, "-m", "auth_service.cli", "migrate"], envs["auth"]),
        ("gateway-migrate", [PY, "-m", "identify_gateway.cli", "migrate"], envs["gateway"]),
        ("cms-migrate", [PY, "-m", "django", "migrate", "--noinput"], envs["cms"]),
        ("cms-collectstatic", [PY, "-m", "django", "collectstatic", "--noinput", "-v", "0"], envs["cms"]),
    ], profile.log_dir)


# What the seed is made of: when none of it changed since the last seed of this profile's data, the
# (idempotent) seed is skipped — a second start is then as fast as the migrations' checks.
SEED_SOURCES = (
    REPO_ROOT / "cms" / "src" / "plant_cms" / "species" / "demo_data.py",
    REPO_ROOT / "cms" / "src" / "plant_cms" / "blog" / "demo_data.py",
    Path(__file__),
)


def _seed_fingerprint(secrets: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(secrets, sort_keys=True).encode())
    for source in SEED_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def seed(profile: Profile, envs: dict[str, dict[str, str]], secrets: dict[str, str]) -> None:
    """The data the platform starts with (demo content, the gateway's client, demo accounts), in
    parallel (different rows). Idempotent; needs only the migrations, not the running services.
    Skipped when this profile's data was already seeded from the same sources and secrets (the
    marker lives in the data directory, so `make reset` re-seeds)."""
    marker, fingerprint = profile.data_dir / "seeded", _seed_fingerprint(secrets)
    if marker.exists() and marker.read_text() == fingerprint:
        return
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
    marker.write_text(fingerprint)


# Longer than Traefik's idle timeout for its keep-alive connections to a backend (90 s): else uvicorn
# (5 s by default) may close one just as Traefik sends a request on it, which Traefik answers 502.
KEEP_ALIVE_S = "95"


def _uvicorn(app: str, port: int) -> list[str]:
    return [PY, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", KEEP_ALIVE_S]


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def _worker_answers(broker_url: str) -> bool:
    """A worker answers a broadcast ping through the broker (a bare Celery client: no need to import
    the gateway, which a subprocess `celery inspect ping` would, at seconds per try)."""
    broker = Celery(broker=broker_url)
    try:
        return bool(broker.control.ping(timeout=0.5))
    finally:
        broker.close()


def _celery(*args: str) -> list[str]:
    return [PY, "-m", "celery", "-A", "identify_gateway.worker", *args]


def start_background(profile: Profile, envs: dict[str, dict[str, str]], supervisor: Supervisor, traefik_config: Path) -> None:
    """What needs no database schema, started first so its start-up overlaps the migrations: the
    provider stand-in, the gateway's Celery worker (slowest to come up) and the edge."""
    ports = Ports.of(profile)
    log, base = profile.log_dir, dict(os.environ)
    supervisor.start(Process(name="provider-standin", argv=_uvicorn("devstack.provider_standin.app:app", ports.standin),
                             env={**base, **envs["standin"]}, cwd=REPO_ROOT, log_path=log / "provider-standin.log"))
    supervisor.start(Process(
        name="gateway-worker",
        argv=_celery("worker", "--loglevel", "INFO", "--concurrency", "2", "-Q", "fast,default,slow,priority", "--hostname", f"gateway-{profile.name}@%h"),
        env={**base, **envs["gateway"]}, cwd=REPO_ROOT, log_path=log / "gateway-worker.log",
        ready=lambda: _worker_answers(envs["gateway"]["GATEWAY_CELERY_BROKER_URL"]),
    ))
    supervisor.start(Process(
        name="traefik",
        argv=[str(Path(PY).parent / "traefik"), f"--configFile={traefik_config}"],
        env={**base, **envs["edge"]}, cwd=TRAEFIK_DIR, log_path=log / "traefik.log",
    ))


def _web(profile: Profile) -> list[tuple[str, list[str], str, int, str]]:
    """(name, argv, environment key, port, readiness path) of each HTTP service."""
    ports = Ports.of(profile)
    gateways = [(f"identify-gateway-{n}" if n > 1 else "identify-gateway", port) for n, port in enumerate(ports.gateways, start=1)]
    return [
        ("auth-service", _uvicorn("auth_service.main:app", ports.auth), "auth", ports.auth, "/readyz"),
        *((name, _uvicorn("identify_gateway.main:app", port), "gateway", port, "/readyz") for name, port in gateways),
        # Django's ASGI handler has no lifespan support; say so instead of letting uvicorn probe.
        ("cms", [*_uvicorn("plant_cms.asgi:application", ports.cms), "--lifespan", "off"], "cms", ports.cms, "/readyz"),
        ("provider-standin", [], "standin", ports.standin, "/livez"),  # started by start_background
    ]


def start_apps(profile: Profile, envs: dict[str, dict[str, str]], supervisor: Supervisor) -> None:
    """The services that read their database: the three HTTP services, beat and the CMS's background work."""
    log, base = profile.log_dir, dict(os.environ)
    for name, argv, env_key, port, path in _web(profile):
        if argv:
            supervisor.start(Process(name=name, argv=argv, env={**base, **envs[env_key]}, cwd=REPO_ROOT, log_path=log / f"{name}.log",
                                     ready=lambda port=port, path=path: _http_ok(f"http://127.0.0.1:{port}{path}")))
    # Scheduled upkeep (engine quotas, retention, account events), sent to the worker's lanes. One beat per stack.
    supervisor.start(Process(
        name="gateway-beat",
        argv=_celery("beat", "--loglevel", "INFO", "--schedule", str(profile.data_dir / "celerybeat-schedule")),
        env={**base, **envs["gateway"]}, cwd=REPO_ROOT, log_path=log / "gateway-beat.log",
    ))
    # The CMS's background work: erase a deleted account's garden; send care reminders every 15 min.
    for name, argv in (
        ("cms-account-events", [PY, "-m", "django", "consume_account_events"]),
        ("cms-reminders", [PY, "-m", "django", "send_care_reminders", "--every", "900"]),
    ):
        supervisor.start(Process(name=name, argv=argv, env={**base, **envs["cms"]}, cwd=REPO_ROOT, log_path=log / f"{name}.log"))


def wait_ready(profile: Profile, envs: dict[str, dict[str, str]], supervisor: Supervisor) -> None:
    """Wait until every process reports ready; fail fast, with its log, if one dies meanwhile."""
    for name, _, _, port, path in _web(profile):
        wait_until(lambda port=port, path=path: _http_ok(f"http://127.0.0.1:{port}{path}"), what=name, timeout=90, supervisor=supervisor)
    # /ping answers before the routes are loaded; a routed path answering 200 proves both.
    wait_until(lambda: _http_ok(f"http://127.0.0.1:{profile.edge_port}/api/v1/auth/health/"), what="traefik routes", timeout=30, supervisor=supervisor)
    worker = supervisor.process("gateway-worker")
    wait_until(lambda: bool(worker.ready and worker.ready()), what="gateway-worker", timeout=90, supervisor=supervisor, interval=0.2)
