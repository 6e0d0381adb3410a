"""The local stack's own machinery: secrets, edge configuration, process supervision."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from devstack import secrets_store
from devstack.edge import render_static_config
from devstack.layout import TRAEFIK_DIR, Profile
from devstack.processes import Process, ProcessDied, Supervisor, run_as, wait_until
from plant_shared.settings import DEV_SECRET_MARKER


def test_secrets_are_generated_once_private_and_marked_as_development(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"

    first = secrets_store.load_or_create(path)
    second = secrets_store.load_or_create(path)

    assert first == second
    assert set(first) == set(secrets_store.NAMES)
    assert all(value.startswith(DEV_SECRET_MARKER) and len(value) > 40 for value in first.values())
    assert len(set(first.values())) == len(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rendered_edge_config_changes_only_addresses_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Profile("test")
    monkeypatch.setattr(Profile, "data_dir", property(lambda self: tmp_path))

    rendered = yaml.safe_load(render_static_config(profile).read_text())
    source = yaml.safe_load((TRAEFIK_DIR / "traefik.yml").read_text())

    assert rendered["entryPoints"]["web"]["address"] == "127.0.0.1:18000"
    assert rendered["entryPoints"]["internal"]["address"] == "127.0.0.1:18080"
    assert rendered["entryPoints"]["web"]["http"] == source["entryPoints"]["web"]["http"]
    assert rendered["experimental"] == source["experimental"]
    assert Path(rendered["providers"]["file"]["directory"]).is_dir()


def _sleeper(tmp_path: Path, name: str, *, ignore_term: bool = False) -> Process:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('up', flush=True)\ntime.sleep(60)\n"
    return Process(name=name, argv=[sys.executable, "-c", code], env=dict(os.environ), log_path=tmp_path / f"{name}.log")


def test_stop_all_stops_children_and_escalates_when_ignored(tmp_path: Path) -> None:
    supervisor = Supervisor()
    polite = supervisor.start(_sleeper(tmp_path, "polite"))
    stubborn = supervisor.start(_sleeper(tmp_path, "stubborn", ignore_term=True))
    wait_until(lambda: "up" in stubborn.log_path.read_text(), what="stubborn", timeout=10)

    started = time.monotonic()
    stubborn.stop(timeout=0.5)
    supervisor.stop_all()

    assert not polite.running and not stubborn.running
    assert stubborn.popen is not None and stubborn.popen.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_a_dead_child_is_reported_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor()
    supervisor.start(Process(name="crasher", argv=[sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], env=dict(os.environ), log_path=tmp_path / "c.log"))

    with pytest.raises(ProcessDied, match=r"crasher exited \(code 3\)[\s\S]*bad config"):
        wait_until(lambda: False, what="never", timeout=10, supervisor=supervisor)


def test_children_die_with_a_supervisor_killed_outright(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from devstack.processes import Process, Supervisor
        child = Supervisor().start(Process(name="c", argv=[sys.executable, "-c", "import time; time.sleep(60)"],
                                           env=dict(os.environ), log_path=Path({str(tmp_path / 'c.log')!r})))
        Path({str(pid_file)!r}).write_text(str(child.popen.pid))
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", what="child", timeout=10)
    child_pid = int(pid_file.read_text())

    parent.kill()
    parent.wait()

    def child_gone() -> bool:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return True
        # A zombie awaiting its (re)parent's reap counts as gone.
        return Path(f"/proc/{child_pid}/stat").read_text().split()[2] == "Z"

    wait_until(child_gone, what="child exit", timeout=10)


def test_only_the_bench_profile_routes_a_baseline_app_through_its_edge() -> None:
    assert Profile("bench").bench_baseline_port == 28190
    assert all(Profile(name).bench_baseline_port is None for name in ("dev", "test", "e2e", "reliability"))




@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_a_child_run_as_postgres_user_can_enter_a_clone_under_mktemp() -> None:
    # `mktemp -d` makes a 0700 root directory; devstack adds o+rx on the way to PostgreSQL's files.
    # With root's group kept the directory's group bits (none) applied, and initdb was refused.
    from devstack.servers import Postgres, _open_path_for

    clone = Path(tempfile.mkdtemp()) / "fresh"
    try:
        clone.mkdir()
        (clone / "inside").write_text("x")
        user = Postgres(clone, clone, 0, clone / "pg.log").os_user
        assert user is not None
        _open_path_for(user, clone)

        listed = subprocess.run(["/bin/ls", str(clone)], capture_output=True, text=True, **run_as(user))  # type: ignore[arg-type]
        groups = subprocess.run(["/usr/bin/id", "-G"], capture_output=True, text=True, check=True, **run_as(user))  # type: ignore[arg-type]
    finally:
        shutil.rmtree(clone.parent, ignore_errors=True)

    assert listed.returncode == 0 and listed.stdout.split() == ["inside"], listed.stderr
    assert "0" not in groups.stdout.split()
