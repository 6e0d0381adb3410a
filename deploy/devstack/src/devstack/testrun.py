"""Run every test suite against one fresh test stack and print one summary line.

Each suite runs in its own pytest process (the services share one environment but must not share
import state, Django settings in particular); results are read back from JUnit XML.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from devstack.layout import REPO_ROOT

# (name, path, extra pytest arguments). The reliability suite starts (and kills parts of) its own
# stack, profile `reliability`, so the end-to-end run against the shared test stack leaves it out.
SUITES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("shared", "shared/tests", ()),
    ("devstack", "deploy/devstack/tests", ()),
    ("auth-service", "auth-service/tests", ()),
    ("identify-gateway", "identify-gateway/tests", ()),
    ("cms", "cms/tests", ()),
    ("end-to-end", "tests", ("--ignore=tests/reliability",)),
    ("reliability", "tests/reliability", ()),
)


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add_junit(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        for suite in root.iter("testsuite"):
            tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            self.failed += failures + errors
            self.skipped += skipped
            self.passed += tests - failures - errors - skipped


def run_suites(env: dict[str, str], report_dir: Path) -> int:
    report_dir.mkdir(parents=True, exist_ok=True)
    totals, broken = Counts(), []
    for name, path, extra in SUITES:
        if not (REPO_ROOT / path).is_dir():
            broken.append(f"{name} (no {path})")
            continue
        junit = report_dir / f"{name}.xml"
        print(f"\n===== {name}: pytest {path} =====", flush=True)
        code = subprocess.run([sys.executable, "-m", "pytest", path, *extra, f"--junitxml={junit}", "-q"], cwd=REPO_ROOT, env=env).returncode
        if junit.exists():
            totals.add_junit(junit)
        if code != 0:
            broken.append(f"{name} (pytest exit {code})")
    print()
    if broken:
        print("failing suites: " + ", ".join(broken))
    print(f"summary: {totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped", flush=True)
    return 1 if broken or totals.failed or not totals.passed else 0
