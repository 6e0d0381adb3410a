"""Each image's settings, loaded with exactly the environment compose gives its service."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.compose_rules.dockerfile import dockerfile_of, dockerfile_stages
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


def _env_instruction(args: str) -> dict[str, str]:
    """An ENV instruction's variables (`ENV A=1 B="x y"`, or the legacy `ENV A 1`)."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(token.split("=", 1) for token in tokens)


def build_time_problems(text: str, where: str, scratch: Path) -> Problems:
    """The final stage's build-time Django commands (collectstatic) run with the image's environment.

    They load the production settings, so a setting the settings came to require breaks the image
    build, not only a deploy. Each such RUN runs here with the ENV the stage has set up to
    it (paths under /app/ moved to `scratch`, PATH to this interpreter's), with `sh -c` as Docker runs it.
    """
    stages = dockerfile_stages(text)
    env: dict[str, str] = {}
    problems: Problems = []
    for keyword, args in stages[-1] if stages else []:
        if keyword == "ENV":
            env.update(_env_instruction(args))
        if keyword != "RUN" or not re.search(r"\bpython -m django\b", args):
            continue
        run_env = {key: (str(scratch / value.removeprefix("/app/")) if value.startswith("/app/") else value)
                   for key, value in env.items() if key != "PATH"}
        run_env.update(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", HOME="/nonexistent")
        result = subprocess.run(["sh", "-c", args], env=run_env, cwd=scratch, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            command = re.search(r"python -m django.*", args)[0]  # type: ignore[index]
            problems.append(f"{where}: RUN … {command!r} fails with the image's environment: {tail}")
    return problems
