"""Small readers of a compose document: services, environment, dependencies, mounts, ports, commands."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from tests.compose_rules.load import ROOT, Compose


def services(doc: Compose) -> dict[str, dict[str, Any]]:
    return doc.get("services") or {}


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str | None]:
    """Dependency -> condition; None for the short (list) form, which waits for nothing."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: None for name in deps}
    return {name: (spec or {}).get("condition") for name, spec in deps.items()}


def one_shot_services(doc: Compose) -> set[str]:
    """Set-up jobs: services another one waits on to *complete*."""
    return {dep for svc in services(doc).values() for dep, cond in depends_on(svc).items() if cond == "service_completed_successfully"}


def networks_of(service: dict[str, Any]) -> set[str]:
    nets = service.get("networks")
    if nets is None:
        return {"default"}
    return set(nets)


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Volume entries as dicts: type (bind/volume/…), source, target, read_only."""
    result = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            result.append({"type": entry.get("type", "volume"), "source": entry.get("source"), "target": entry["target"], "read_only": bool(entry.get("read_only"))})
            continue
        parts = entry.split(":")
        if len(parts) == 1:
            result.append({"type": "volume", "source": None, "target": parts[0], "read_only": False})
            continue
        source, target, mode = parts[0], parts[1], (parts[2] if len(parts) > 2 else "")
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append({"type": kind, "source": source, "target": target, "read_only": "ro" in mode.split(",")})
    return result


def published_container_ports(service: dict[str, Any]) -> list[int]:
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
            continue
        spec = str(entry).split("/")[0]
        ports.append(int(spec.rsplit(":", 1)[-1].split("-")[0]))
    return ports


def command_args(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(arg) for arg in command]


def traefik_service(doc: Compose) -> tuple[str, dict[str, Any]] | None:
    for name, svc in services(doc).items():
        if str(svc.get("image", "")).split(":")[0].split("/")[-1] == "traefik":
            return name, svc
    return None


def host_path(source: str) -> Path:
    return (ROOT / source).resolve() if not source.startswith("/") else Path(source)


def container_to_host(service: dict[str, Any], container_path: str) -> tuple[Path, dict[str, Any]] | None:
    """The host path a bind mount gives `container_path`, with the mount; None when nothing is mounted there."""
    path = PurePosixPath(container_path)
    best = None
    for mount in mounts(service):
        if mount["type"] != "bind":
            continue
        target = PurePosixPath(mount["target"])
        if path == target or target in path.parents:
            if best is None or len(target.parts) > len(PurePosixPath(best["target"]).parts):
                best = mount
    if best is None:
        return None
    relative = path.relative_to(PurePosixPath(best["target"]))
    return host_path(best["source"]) / relative, best
