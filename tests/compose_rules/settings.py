"""Each image's settings, loaded with exactly the environment compose gives its service."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests.compose_rules.dockerfile import dockerfile_of
from tests.compose_rules.interpolation import interpolate, placeholder_env
from tests.compose_rules.load import ROOT, Compose, Problems
from tests.compose_rules.readers import environment, services

# How each image's process reads its settings; run here with exactly the environment compose gives it.
SETTINGS_PROBES = {
    "auth-service/Dockerfile": ["-c", "from auth_service.config import Settings; Settings()"],
    "identify-gateway/Dockerfile": ["-c", "from identify_gateway.config import Settings; Settings()"],
    "cms/Dockerfile": ["-m", "django", "check", "--deploy"],
}
# Django's deploy warnings that belong to the TLS work (issue 7): HSTS and the HTTPS redirect.
TLS_WARNINGS = {"security.W004", "security.W008"}


def settings_problems(doc: Compose, only: set[str] | None = None) -> Problems:
    """Run each image's settings probe with exactly the environment compose gives the service."""
    env = placeholder_env(doc)
    probed: dict[tuple[str, str], str] = {}
    for name, svc in services(doc).items():
        dockerfile = dockerfile_of(svc)
        if dockerfile is None or (only is not None and name not in only):
            continue
        service_env = {k: v for k, v in interpolate(environment(svc), env).items() if v is not None}
        probed.setdefault((dockerfile.relative_to(ROOT).as_posix(), json.dumps(service_env, sort_keys=True)), name)
    problems: Problems = []
    for (dockerfile, service_env), name in probed.items():
        argv = [sys.executable, *SETTINGS_PROBES[dockerfile]]
        # Nothing inherited but PATH: a developer's own AUTH_*/GATEWAY_*/CMS_* must not fill gaps.
        run_env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", **json.loads(service_env)}
        result = subprocess.run(argv, env=run_env, cwd="/", capture_output=True, text=True, timeout=120)
        warnings = set(re.findall(r"\((\w+\.W\d+)\)", result.stdout + result.stderr)) - TLS_WARNINGS
        if result.returncode != 0 or warnings:
            problems.append(f"{name}: {sorted(warnings) or (result.stderr or result.stdout).strip().splitlines()[-1:]}")
    return problems
