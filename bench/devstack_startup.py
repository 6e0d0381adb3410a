"""Local-stack start-up: first start (fresh data) and second start (kept data), plus stop time.

Issue 2's goals: `make dev` under 3 minutes the first time (installs included; time `make install`
on a fresh clone for that part) and under 30 s the second time. The baseline measured in the same
run is a bare interpreter start, so slow-machine drift shows up as a larger baseline too.
Run: `.venv/bin/python bench/devstack_startup.py` (uses the `test` profile's ports and data).
"""

from __future__ import annotations

import subprocess
import sys
import time

from devstack.layout import profile
from devstack.stack import Stack, reset


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> None:
    prof = profile("test")
    baseline = timed(lambda: subprocess.run([sys.executable, "-c", "import django, fastapi, celery"], check=True))
    reset(prof)
    rounds = {}
    for label in ("first start (fresh data)", "second start (kept data)"):
        stack = Stack(prof)
        up = stack.up(log=lambda _msg: None)
        down = timed(stack.down)
        rounds[label] = (up, down)
    print(f"baseline: importing django+fastapi+celery takes {baseline:.2f} s")
    for label, (up, down) in rounds.items():
        print(f"{label:26s}: ready in {up:5.1f} s ({up / baseline:5.1f}x baseline), stopped in {down:4.1f} s")
    second = rounds["second start (kept data)"][0]
    print(f"second start goal < 30 s: {'met' if second < 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
