"""The compose rules: each returns the problems it finds in a compose document (edge rules: see `edge`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema

from tests.compose_rules.dockerfile import dockerfile_of, dockerfile_stages, final_stage_has_healthcheck
from tests.compose_rules.load import ROOT, Compose, Problems, load_schema, workspace_members
from tests.compose_rules.readers import (
    command_args,
    depends_on,
    environment,
    host_path,
    mounts,
    networks_of,
    one_shot_services,
    services,
    traefik_service,
)

DATA_STORES = ("postgres", "redis")
# Our own top-level packages: a module path starting with one of these must exist in the repository.
OUR_PACKAGES = {"auth_service", "identify_gateway", "plant_cms", "plant_shared", "devstack"}
# Environment names that hold secrets. Their values must be required references, nothing else.
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)")
REQUIRED_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}$")
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<password>\$\{[^}]*\}|[^@\s]*)@", re.IGNORECASE)


def schema_problems(doc: Compose) -> Problems:
    validator = jsonschema.Draft7Validator(load_schema())
    return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}" for error in sorted(validator.iter_errors(doc), key=str)]


def reference_problems(doc: Compose) -> Problems:
    """Names the schema cannot check: dependencies, volumes and networks that must be declared."""
    problems: Problems = []
    declared_volumes = set(doc.get("volumes") or {})
    declared_networks = set(doc.get("networks") or {}) | {"default"}
    for name, svc in services(doc).items():
        for dep in depends_on(svc):
            if dep not in services(doc):
                problems.append(f"{name}: depends on unknown service {dep}")
        for mount in mounts(svc):
            if mount["type"] == "volume" and mount["source"] and mount["source"] not in declared_volumes:
                problems.append(f"{name}: volume {mount['source']} is not declared under volumes:")
        for net in networks_of(svc) - declared_networks:
            problems.append(f"{name}: network {net} is not declared under networks:")
    return problems


def build_problems(doc: Compose) -> Problems:
    problems: Problems = []
    for name, svc in services(doc).items():
        dockerfile = dockerfile_of(svc)
        if dockerfile is None:
            continue
        if not dockerfile.is_file():
            problems.append(f"{name}: build names {dockerfile.relative_to(ROOT)}, which does not exist")
        if not svc.get("image"):
            problems.append(f"{name}: a built service needs an image: name, so services sharing the image reuse it")
    return problems


def has_healthcheck(svc: dict[str, Any]) -> bool:
    """A health check in compose, or in the image's Dockerfile unless compose disables it."""
    check = svc.get("healthcheck") or {}
    if check.get("disable") in (True, "true") or (check.get("test") or [""])[0] == "NONE":
        return False
    if check.get("test"):
        return True
    dockerfile = dockerfile_of(svc)
    return dockerfile is not None and dockerfile.is_file() and final_stage_has_healthcheck(dockerfile)


def image_command(dockerfile: Path) -> list[str] | None:
    """The final stage's CMD (exec form), or None."""
    stages = dockerfile_stages(dockerfile.read_text())
    commands = [args for keyword, args in (stages[-1] if stages else []) if keyword == "CMD"]
    return json.loads(commands[-1]) if commands and commands[-1].startswith("[") else None


# A health check that passes whatever the process does: `true`, `exit 0`, or anything `|| true`.
_ALWAYS_TRUE = re.compile(r"^\s*(true|:|exit\s+0|/(usr/)?bin/true)\s*$|\|\|\s*(true|:|exit\s+0)\s*;?\s*$")


def cannot_fail(test: Any) -> bool:
    if isinstance(test, str):
        return bool(_ALWAYS_TRUE.search(test))
    kind, args = (str(test[0]), [str(arg) for arg in test[1:]]) if test else ("", [])
    if kind == "CMD-SHELL":
        return bool(_ALWAYS_TRUE.search(" ".join(args)))
    if kind == "CMD":
        if args and args[0] in ("true", "/bin/true", "/usr/bin/true"):
            return True
        if len(args) == 3 and args[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and args[1] == "-c":
            return bool(_ALWAYS_TRUE.search(args[2]))
    return False


def healthcheck_problems(doc: Compose) -> Problems:
    """Every long-running service has a health check (its own, or its image's) that can fail and checks
    what the service runs; set-up jobs never restart."""
    problems: Problems = []
    one_shots = one_shot_services(doc)
    for name, svc in services(doc).items():
        if name in one_shots:
            if svc.get("restart") not in (None, "no"):
                problems.append(f"{name}: a set-up job must not restart (restart: \"no\"), or it runs again after completing")
            continue
        if not has_healthcheck(svc):
            problems.append(f"{name}: long-running, and no health check applies (none in compose or its image, or disabled)")
            continue
        own = (svc.get("healthcheck") or {}).get("test")
        if own and cannot_fail(own):
            problems.append(f"{name}: its health check cannot fail ({own!r}); check what the process does")
        dockerfile = dockerfile_of(svc)
        if not own and svc.get("command") is not None and dockerfile is not None and dockerfile.is_file():
            if command_args(svc) != image_command(dockerfile):
                problems.append(f"{name}: runs its own command but keeps the image's health check, which probes what the "
                                "image's CMD serves; give it a health check of its own")
    return problems


def depends_on_problems(doc: Compose) -> Problems:
    """Whoever uses PostgreSQL or Redis waits until they are healthy, not merely started."""
    problems: Problems = []
    for name, svc in services(doc).items():
        deps = depends_on(svc)
        env_text = json.dumps(environment(svc)) + json.dumps(command_args(svc))
        uses = {store for store in DATA_STORES if re.search(rf"[@/]{store}:\d+", env_text)}
        for store in sorted(uses | (set(deps) & set(DATA_STORES))):
            if store not in deps:
                problems.append(f"{name}: uses {store} but does not depend on it (condition: service_healthy)")
            elif deps[store] != "service_healthy":
                problems.append(f"{name}: depends on {store} with {deps[store] or 'the short form'}; use condition: service_healthy")
        for dep, condition in deps.items():
            if condition == "service_healthy" and dep in services(doc) and not has_healthcheck(services(doc)[dep]):
                problems.append(f"{name}: waits for {dep} to be healthy, but {dep} has no health check")
    return problems


def secret_problems(doc: Compose) -> Problems:
    """No secret is written in the file: secret variables and URL passwords are `${VAR:?…}` references."""
    problems: Problems = []
    for name, svc in services(doc).items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key) and (value is None or not REQUIRED_REFERENCE.match(value)):
                # The value itself is not repeated: it may be a real secret.
                problems.append(f"{name}: {key} must be a required reference like ${{{key}:?message}}")

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                walk(item, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")
        elif isinstance(node, str):
            for match in URL_CREDENTIALS.finditer(node):
                if not REQUIRED_REFERENCE.match(match["password"]):
                    problems.append(f"{where}: the URL's password must be a required reference ${{VAR:?message}}")

    walk(doc, "")
    return problems


# What a set-up job may keep when it must run as root (to hand a new volume over to an unprivileged user).
OWNERSHIP_CAPABILITIES = {"CHOWN", "FOWNER", "DAC_OVERRIDE"}


def is_ownership_job(doc: Compose, name: str, svc: dict[str, Any]) -> bool:
    """A one-shot job with no network and no capability but the file-ownership ones."""
    caps = {str(cap).upper().removeprefix("CAP_") for cap in svc.get("cap_add") or []}
    return (name in one_shot_services(doc) and svc.get("network_mode") == "none" and "ALL" in (svc.get("cap_drop") or [])
            and caps <= OWNERSHIP_CAPABILITIES and svc.get("read_only") is True)


def non_root_problems(doc: Compose) -> Problems:
    """Everything but the data stores (whose official images drop root themselves) runs unprivileged,
    except a set-up job that only fixes a volume's ownership (no network, no other capability)."""
    problems: Problems = []
    for name, svc in services(doc).items():
        if name in DATA_STORES or svc.get("build"):  # built images: their Dockerfile's USER is checked
            continue
        user = str(svc.get("user", "")).split(":")[0]
        if user in ("0", "root") and is_ownership_job(doc, name, svc):
            continue
        if user in ("0", "root") or (not user and "unprivileged" not in str(svc.get("image", ""))):
            problems.append(f"{name}: runs as root; set user: (or use the image's unprivileged variant)")
    return problems


def bind_mount_problems(doc: Compose) -> Problems:
    problems: Problems = []
    for name, svc in services(doc).items():
        for mount in mounts(svc):
            if mount["type"] == "bind" and not host_path(mount["source"]).exists():
                problems.append(f"{name}: bind mount source {mount['source']} does not exist")
            if mount["type"] == "bind" and not mount["read_only"]:
                problems.append(f"{name}: bind mount {mount['source']} should be read-only (:ro)")
    return problems


def image_pin_problems(doc: Compose) -> Problems:
    problems: Problems = []
    for name, svc in services(doc).items():
        if svc.get("build"):
            continue
        image = str(svc.get("image", ""))
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image!r} must be pinned to a version tag")
    edge = traefik_service(doc)
    if edge is not None:
        tag = str(edge[1]["image"]).rsplit(":", 1)[-1]
        match = re.fullmatch(r"v3\.(\d+)(\.\d+)?", tag)
        if match is None or int(match[1]) < 4:
            problems.append(f"{edge[0]}: Traefik must be v3.4 or later (3.1-3.3 throughput regressions), got {tag}")
    return problems


def module_problems(doc: Compose) -> Problems:
    """Module paths in commands that name our packages point at files that exist."""
    commands: list[tuple[str, list[str]]] = [(name, command_args(svc)) for name, svc in services(doc).items()]
    for dockerfile in sorted(ROOT.glob("*/Dockerfile")):
        for keyword, args in dockerfile_stages(dockerfile.read_text())[-1]:
            if keyword == "CMD" and args.startswith("["):
                commands.append((str(dockerfile.relative_to(ROOT)), json.loads(args)))
    problems: Problems = []
    for where, args in commands:
        for arg in args:
            module = re.fullmatch(r"(?P<module>[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+)(?::[A-Za-z_]\w*)?", arg)
            if module is None or module["module"].split(".")[0] not in OUR_PACKAGES:
                continue
            relative = Path(*module["module"].split("."))
            candidates = [ROOT / member / "src" / relative for member in workspace_members()]
            if not any(c.with_suffix(".py").is_file() or (c / "__init__.py").is_file() for c in candidates):
                problems.append(f"{where}: {module['module']} is not a module in the repository")
    return problems
