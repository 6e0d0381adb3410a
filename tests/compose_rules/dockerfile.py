"""Dockerfiles: parsing them, and the rules for our service images."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from tests.compose_rules.load import ROOT, Problems

PYTHON_BASE_IMAGE = "python:3.11-slim"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; continuation lines joined, comment lines dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    if pending:
        keyword, _, args = pending.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions(text):
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def copy_parts(args: str) -> tuple[dict[str, str], list[str], str]:
    """COPY's flags, sources and destination (shell form only)."""
    tokens = args.split()
    flags = {}
    while tokens and tokens[0].startswith("--"):
        key, _, value = tokens.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, tokens[:-1], tokens[-1] if tokens else ""


def dockerfile_problems(text: str, *, package: str, members: list[str], service_dir: str) -> Problems:
    """Rules for our service images: python:3.11-slim, two-phase locked uv build, non-root, health check."""
    problems: Problems = []
    stages = dockerfile_stages(text)
    if not stages:
        return ["no FROM instruction"]
    stage_names: set[str] = set()
    for stage in stages:
        base, _, alias = stage[0][1].partition(" AS ") if " AS " in stage[0][1] else stage[0][1].partition(" as ")
        base = base.strip()
        if base != PYTHON_BASE_IMAGE and base not in stage_names:
            problems.append(f"FROM {base}: every stage must start from {PYTHON_BASE_IMAGE} (or an earlier stage)")
        if alias.strip():
            stage_names.add(alias.strip())
    all_instructions = [ins for stage in stages for ins in stage]
    for keyword, args in all_instructions:
        if keyword == "COPY":
            source_stage = copy_parts(args)[0].get("from")
            if source_stage is not None and source_stage not in stage_names:
                problems.append(f"COPY --from={source_stage}: only earlier stages (no registry but PyPI is reachable; install uv with pip)")
    if not any(keyword == "RUN" and re.search(r"pip install .*\buv==\d+\.\d+\.\d+", args) for keyword, args in all_instructions):
        problems.append("uv must come from PyPI at an exact version: RUN pip install uv==X.Y.Z")

    # Two phases: dependencies from the lock with only the project files present, then our code.
    syncs = [(i, args) for i, (keyword, args) in enumerate(all_instructions) if keyword == "RUN" and "uv sync" in args]
    if len(syncs) < 2:
        problems.append("two-phase build expected: `uv sync` once for the dependencies, once with the code")
    else:
        (first_at, first), (last_at, last) = syncs[0], syncs[-1]
        for flag in ("--locked", "--no-dev", f"--package {package}"):
            for label, args in (("first", first), ("last", last)):
                if flag not in args:
                    problems.append(f"{label} `uv sync` lacks {flag}")
        if "--no-install-workspace" not in first:
            # --no-install-project is not enough: plant-shared would be built from a tree without its code.
            problems.append("first `uv sync` must skip our own packages (--no-install-workspace)")
        if "--no-install" in last:
            problems.append("last `uv sync` must install our packages")
        copied_first = [src for keyword, args in all_instructions[:first_at] if keyword == "COPY" for src in copy_parts(args)[1]]
        for source in copied_first:
            if PurePosixPath(source).name not in ("pyproject.toml", "uv.lock"):
                problems.append(f"COPY {source} before the first `uv sync` defeats the dependency layer: copy only pyproject.toml files and uv.lock")
        needed = ["pyproject.toml", "uv.lock"] + [f"{member}/pyproject.toml" for member in members]
        for path in needed:
            if path not in copied_first:
                problems.append(f"{path} must be copied before the first `uv sync` (uv reads the whole workspace)")
        copied_between = [src.rstrip("/") for keyword, args in all_instructions[first_at:last_at] if keyword == "COPY" for src in copy_parts(args)[1]]
        for directory in ("shared", service_dir):
            if directory not in copied_between:
                problems.append(f"COPY {directory}/ expected between the two `uv sync` runs")

    final = stages[-1]
    users = [args.split(":")[0].strip() for keyword, args in final if keyword == "USER"]
    if not users:
        problems.append("the final stage sets no USER: the image would run as root")
    elif users[-1] in ("root", "0"):
        problems.append(f"USER {users[-1]}: the final stage must run as a non-root user")
    health = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    if not health or health[-1].upper().startswith("NONE"):
        problems.append("the final stage has no HEALTHCHECK")
    if not any(keyword == "EXPOSE" and "8000" in args.split() for keyword, args in final):
        problems.append("EXPOSE 8000 expected (the process contract's port)")
    return problems


def final_stage_has_healthcheck(dockerfile: Path) -> bool:
    stages = dockerfile_stages(dockerfile.read_text())
    checks = [args for keyword, args in stages[-1] if keyword == "HEALTHCHECK"] if stages else []
    return bool(checks) and not checks[-1].upper().startswith("NONE")


def dockerfile_of(service: dict[str, Any]) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
