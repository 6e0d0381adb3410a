"""Start, watch and stop the stack's child processes.

Each child runs in its own session (so a terminal Ctrl-C reaches only the supervisor, which then
stops children in reverse start order) and gets a parent-death signal (so nothing outlives a
supervisor that was killed outright).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup(death_signal: int) -> Callable[[], None]:
    def setup() -> None:
        os.setsid()
        _libc.prctl(_PR_SET_PDEATHSIG, death_signal)

    return setup


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
            user=self.user,
            preexec_fn=_child_setup(self.stop_signal),  # noqa: PLW1509 - setsid + prctl only
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.running:
            return
        assert self.popen is not None
        self.popen.send_signal(self.stop_signal)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

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
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
