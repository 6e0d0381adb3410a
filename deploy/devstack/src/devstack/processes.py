"""Start, watch and stop the stack's child processes.

Each child runs in its own session (so a terminal Ctrl-C reaches only the supervisor, which then
stops children in reverse start order) and gets a parent-death signal (so nothing outlives a
supervisor that was killed outright).

Fault injection (the reliability suite): `Supervisor.process(name)` finds a child, `Process.kill()`
kills it (its whole session by default: a server's workers die with it, as on a crash) and
`Process.restart()` starts it again and waits until its readiness check holds.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def run_as(user: str | None) -> dict[str, object]:
    """`subprocess` arguments that run a child as `user` with that user's own group and no other:
    with `user=` alone the child keeps root's group, so a root-owned 0705 directory (a `mktemp -d`
    with o+rx added) is closed to it by its group bits. Empty for None (stay who we are)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def child_setup(death_signal: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn`: a session of its own, and `death_signal` when the parent dies (so nothing
    outlives a killed supervisor or test run)."""
    def setup() -> None:
        os.setsid()
        _libc.prctl(_PR_SET_PDEATHSIG, death_signal)

    return setup


def stop_popen(popen: subprocess.Popen, *, timeout: float = 10.0, sig: int = signal.SIGTERM, group: bool = False) -> None:
    """Ask a child to stop with `sig`; after `timeout`, SIGKILL it (its whole process group with
    `group`, for children started with `child_setup`). Nothing to do if it has exited already."""
    if popen.poll() is not None:
        return
    popen.send_signal(sig)
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(popen.pid, signal.SIGKILL)
        else:
            popen.kill()
        popen.wait()


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    user: str | None = None
    # PostgreSQL shuts down fastest (and safely) on SIGINT; everything else on SIGTERM.
    stop_signal: int = signal.SIGTERM
    # Readiness after a restart (e.g. PING, /readyz); None: running is ready enough.
    ready: Callable[[], bool] | None = field(default=None, repr=False)
    ready_timeout: float = 90.0
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **run_as(self.user),  # type: ignore[arg-type]
            preexec_fn=child_setup(self.stop_signal),  # noqa: PLW1509 - setsid + prctl only
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is not None:
            stop_popen(self.popen, timeout=timeout, sig=self.stop_signal, group=True)

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def children(self) -> list[int]:
        """Pids of its direct children (e.g. a Celery worker's pool processes)."""
        try:
            return [int(pid) for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def kill(self, sig: int = signal.SIGKILL, *, group: bool = True) -> None:
        """Send `sig` to its whole session (`group`, as a crash would leave no worker behind) or to
        the leader only; with SIGKILL, also wait until it is gone."""
        if not self.running:
            return
        if group:
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)
        if sig == signal.SIGKILL:
            assert self.popen is not None
            self.popen.wait()

    def restart(self) -> None:
        """Stop it if it still runs, start it again and wait until it is ready (fails with its log)."""
        self.stop()
        self.start()
        wait_until(self._ready_or_died, what=f"{self.name} (restarted)", timeout=self.ready_timeout)

    def _ready_or_died(self) -> bool:
        if not self.running:
            raise ProcessDied(f"{self.name} exited on restart; last log lines from {self.log_path}:\n{self.tail()}")
        return self.ready() if self.ready else True

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class ProcessDied(RuntimeError):
    pass


@dataclass
class Supervisor:
    processes: list[Process] = field(default_factory=list)

    def start(self, process: Process) -> Process:
        process.start()
        self.processes.append(process)
        return process

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(f"no process {name!r}; running: {[p.name for p in self.processes]}")

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.running:
                raise ProcessDied(f"{process.name} exited (code {process.popen.returncode if process.popen else '?'}); last log lines from {process.log_path}:\n{process.tail()}")

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def wait_until(predicate: Callable[[], bool], *, what: str, timeout: float, supervisor: Supervisor | None = None, interval: float = 0.2) -> None:
    """Poll `predicate` until it holds; fail fast if a supervised process dies meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor is not None:
            supervisor.check_alive()
        try:
            if predicate():
                return
        except ProcessDied:
            raise
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
