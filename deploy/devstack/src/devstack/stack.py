"""The whole local stack for one profile: servers, set-up, services, edge."""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass, field

from devstack import secrets_store
from devstack.edge import render_static_config
from devstack.layout import Profile
from devstack.processes import Process, Supervisor
from devstack.servers import Postgres, Redis
from devstack.services import DEMO_ACCOUNTS, Ports, environments, migrate, seed, start_apps, start_background, wait_ready


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Stack:
    profile: Profile
    supervisor: Supervisor = field(default_factory=Supervisor)

    def __post_init__(self) -> None:
        data = self.profile.data_dir
        self.secrets = secrets_store.load_or_create(data / "secrets.json")
        self.postgres = Postgres(data_dir=data / "postgres", socket_dir=data / "run", port=self.profile.postgres_port, log_path=self.profile.log_dir / "postgres.log")
        self.redis = Redis(data_dir=data / "redis", port=self.profile.redis_port, log_path=self.profile.log_dir / "redis.log")
        self.envs = environments(self.profile, self.postgres, self.redis, self.secrets)

    def _check_ports(self) -> None:
        ports = Ports.of(self.profile)
        wanted = [self.profile.edge_port, self.profile.edge_internal_port, self.profile.postgres_port, self.profile.redis_port,
                  ports.auth, *ports.gateways, ports.cms, ports.standin]
        busy = [port for port in wanted if not _port_free(port)]
        if busy:
            raise SystemExit(f"ports {busy} are in use: is the `{self.profile.name}` stack already running?")

    def up(self, *, log=print) -> float:
        """Start everything and return the seconds it took."""
        started = time.monotonic()
        self._check_ports()
        self.profile.log_dir.mkdir(parents=True, exist_ok=True)
        log(f"[devstack] {self.profile.name}: starting PostgreSQL and Redis (data in {self.profile.data_dir})")
        self.postgres.start(self.supervisor)
        self.redis.start(self.supervisor)
        self.postgres.provision(
            {name: self.secrets[f"postgres_{name}_password"] for name in ("auth", "gateway", "cms")},
            can_create_databases=self.profile.name != "dev",  # test databases (pytest-django); never in dev
        )
        # Overlapped: what needs no schema starts while the migrations run; the demo data is
        # seeded while the services boot.
        log("[devstack] starting the gateway worker, provider stand-in and traefik; migrations and static files")
        start_background(self.profile, self.envs, self.supervisor, render_static_config(self.profile))
        migrate(self.profile, self.envs)
        log("[devstack] starting auth-service, identify-gateway, cms and their background work; demo content and accounts")
        start_apps(self.profile, self.envs, self.supervisor)
        seed(self.profile, self.envs, self.secrets)
        wait_ready(self.profile, self.envs, self.supervisor)
        return time.monotonic() - started

    def down(self) -> None:
        self.supervisor.stop_all()

    def process(self, name: str) -> Process:
        """One of the stack's processes by name (`redis`, `postgres`, `identify-gateway`, `gateway-worker`…),
        to kill and restart it (the reliability suite)."""
        return self.supervisor.process(name)

    def client_env(self) -> dict[str, str]:
        """What tests and tools need to reach this stack: every service's variables plus the edge."""
        env: dict[str, str] = {}
        for name in ("auth", "gateway", "cms", "standin"):
            env.update(self.envs[name])
        # Each suite picks its own Django settings (or none); a global one would leak into all.
        env.pop("DJANGO_SETTINGS_MODULE")
        ports = Ports.of(self.profile)
        env.update({
            "PLATFORM_EDGE_URL": self.profile.edge_url,
            "PLATFORM_EDGE_INTERNAL_URL": f"http://127.0.0.1:{self.profile.edge_internal_port}",
            "PLATFORM_AUTH_URL": f"http://127.0.0.1:{ports.auth}",
            "PLATFORM_GATEWAY_URL": f"http://127.0.0.1:{ports.gateway}",
            "PLATFORM_GATEWAY_URLS": ",".join(f"http://127.0.0.1:{port}" for port in ports.gateways),
            "PLATFORM_CMS_URL": f"http://127.0.0.1:{ports.cms}",
            "PLATFORM_STANDIN_URL": f"http://127.0.0.1:{ports.standin}",
            "PLATFORM_BENCH_BASELINE_URL": self.envs["edge"]["BENCH_BASELINE_URL"],
            "PLATFORM_LOG_DIR": str(self.profile.log_dir),
            "PLATFORM_POSTGRES_ADMIN_DSN": self.postgres.admin_dsn(),
            "PLATFORM_REDIS_URL": self.redis.url,
            # The shared library's tests: a Redis database no service uses.
            "SHARED_TEST_REDIS_URL": f"{self.redis.url}/5",
        })
        for email, role, _, secret in DEMO_ACCOUNTS:
            env[f"PLATFORM_DEMO_{role.upper()}_EMAIL"] = email
            env[f"PLATFORM_DEMO_{role.upper()}_PASSWORD"] = self.secrets[secret]
        return env

    def banner(self, elapsed: float) -> str:
        edge = self.profile.edge_url
        editor, member = DEMO_ACCOUNTS
        return "\n".join([
            f"[devstack] ready in {elapsed:.1f}s — one origin: {edge}",
            f"  auth health       {edge}/api/v1/auth/health/",
            f"  auth API docs     {edge}/api/v1/auth/docs",
            f"  gateway health    {edge}/api/v1/plant-identification/identify/health/",
            f"  gateway API docs  {edge}/api/v1/plant-identification/docs",
            f"  Wagtail API v2    {edge}/api/v2/pages/",
            f"  Wagtail admin     {edge}/cms/",
            f"  demo editor       {editor[0]} / {self.secrets[editor[3]]}",
            f"  demo member       {member[0]} / {self.secrets[member[3]]}",
            f"  logs              {self.profile.log_dir}",
            "  Ctrl-C stops everything.",
        ])


def reset(profile: Profile) -> None:
    """Delete the profile's data (databases, Redis dump, secrets, logs)."""
    shutil.rmtree(profile.data_dir, ignore_errors=True)
