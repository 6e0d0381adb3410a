"""Killing and restarting supervised processes (what the reliability suite does to the stack)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from devstack.processes import Process, ProcessDied, Supervisor, wait_until
from devstack.testrun import SUITES

# A parent that starts one child in its own process group, then both sleep.
_PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print('up', flush=True)\ntime.sleep(60)\n"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def _parent(tmp_path: Path, **fields: object) -> Process:
    return Process(name="server", argv=[sys.executable, "-c", _PARENT_WITH_CHILD], env=dict(os.environ), log_path=tmp_path / "server.log", **fields)


def test_the_supervisor_finds_a_process_by_name(tmp_path: Path) -> None:
    supervisor = Supervisor()
    server = supervisor.start(_parent(tmp_path))
    try:
        assert supervisor.process("server") is server
        with pytest.raises(KeyError, match="no process 'nope'.*server"):
            supervisor.process("nope")
    finally:
        supervisor.stop_all()


def test_kill_takes_the_whole_session_down_and_restart_brings_it_back_ready(tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    server = _parent(tmp_path, ready=marker.exists, ready_timeout=10)
    server.start()
    try:
        wait_until(lambda: len(server.children()) == 1, what="child", timeout=10)
        first_pid, (child_pid,) = server.pid, server.children()

        server.kill()

        assert not server.running
        assert server.popen is not None and server.popen.returncode == -signal.SIGKILL
        wait_until(lambda: not _alive(child_pid), what="the child's death", timeout=10)  # signalled too; exits on its own time

        marker.touch()
        server.restart()

        assert server.running and server.pid != first_pid
    finally:
        server.stop()


def test_kill_of_the_leader_only_leaves_its_children(tmp_path: Path) -> None:
    server = _parent(tmp_path)
    server.start()
    wait_until(lambda: len(server.children()) == 1, what="child", timeout=10)
    (child_pid,) = server.children()
    try:
        server.kill(group=False)
        assert not server.running and _alive(child_pid)
    finally:
        os.kill(child_pid, signal.SIGKILL)


def test_restart_fails_with_the_log_when_the_process_dies_instead_of_getting_ready(tmp_path: Path) -> None:
    crasher = Process(name="crasher", argv=[sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
                      env=dict(os.environ), log_path=tmp_path / "c.log", ready=lambda: False, ready_timeout=10)

    with pytest.raises(ProcessDied, match=r"crasher exited on restart[\s\S]*bad config"):
        crasher.restart()


def test_the_reliability_suite_runs_on_its_own_and_the_end_to_end_run_leaves_it_out() -> None:
    suites = {name: (path, extra) for name, path, extra in SUITES}

    assert suites["reliability"] == ("tests/reliability", ())
    assert "--ignore=tests/reliability" in suites["end-to-end"][1]


def test_only_the_reliability_profile_runs_a_second_gateway_replica_on_its_own_port() -> None:
    from devstack.layout import Profile
    from devstack.services import Ports, _web

    dev, reliability = Ports.of(Profile("dev")), Ports.of(Profile("reliability"))

    assert dev.gateways == (8102,)
    assert reliability.gateways == (14102, 14112)
    names = [name for name, *_ in _web(Profile("reliability"))]
    assert names.count("identify-gateway") == 1 and "identify-gateway-2" in names
