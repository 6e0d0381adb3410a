"""The edge's rules: only Traefik is published, nothing is exposed by default, and its configuration is mounted."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from tests.compose_rules.dockerfile import dockerfile_of, dockerfile_stages
from tests.compose_rules.load import Compose, Problems
from tests.compose_rules.readers import (
    command_args,
    container_to_host,
    environment,
    mounts,
    networks_of,
    published_container_ports,
    services,
    traefik_service,
)


def edge_problems(doc: Compose, static_config: dict[str, Any] | None) -> Problems:
    """One way in: only Traefik publishes a port, and nothing is exposed by default."""
    problems: Problems = []
    edge = traefik_service(doc)
    if edge is None:
        return ["no traefik service"]
    edge_name, edge_svc = edge
    for name, svc in services(doc).items():
        if name != edge_name and svc.get("ports"):
            problems.append(f"{name}: publishes ports; only the edge ({edge_name}) may")
    flags = {arg.split("=")[0].lower(): (arg.split("=", 1)[1] if "=" in arg else "true") for arg in command_args(edge_svc)}
    docker_flags = [flag for flag in flags if flag.startswith("--providers.docker") or flag.startswith("--providers.swarm")]
    docker_provider = bool(docker_flags) or any(key in ((static_config or {}).get("providers") or {}) for key in ("docker", "swarm"))
    for prefix in ("--providers.docker", "--providers.swarm"):
        if any(flag.startswith(prefix) for flag in docker_flags) and flags.get(f"{prefix}.exposedbydefault", "true").lower() != "false":
            problems.append(f"{edge_name}: {prefix} without {prefix}.exposedByDefault=false exposes every container")
    for key in ("docker", "swarm"):
        provider = ((static_config or {}).get("providers") or {}).get(key)
        if provider is not None and (provider or {}).get("exposedByDefault", True) is not False:
            problems.append(f"traefik.yml: providers.{key} must set exposedByDefault: false")
    # Services that believe any peer's X-Forwarded-For rely on the edge replacing the client's own.
    believers = [name for name, svc in services(doc).items() if environment(svc).get("FORWARDED_ALLOW_IPS") == "*"]
    for entry_point, spec in ((static_config or {}).get("entryPoints") or {}).items():
        forwarded = (spec or {}).get("forwardedHeaders") or {}
        if believers and (forwarded.get("insecure") or forwarded.get("trustedIPs")):
            problems.append(f"traefik.yml: entry point {entry_point} passes clients' X-Forwarded-For on, but "
                            f"{', '.join(believers)} trust it from any peer (FORWARDED_ALLOW_IPS=*)")
    for name, svc in services(doc).items():
        for mount in mounts(svc):
            if mount["source"] and "docker.sock" in mount["source"]:
                if name != edge_name or not docker_provider:
                    problems.append(f"{name}: mounts the Docker socket (full control of the host) for no provider")
                elif not mount["read_only"]:
                    problems.append(f"{name}: mounts the Docker socket writable")
    return problems


def traefik_mount_problems(doc: Compose) -> Problems:
    """The Traefik configuration the edge is told to read is mounted, and so is everything it names."""
    edge = traefik_service(doc)
    if edge is None:
        return ["no traefik service"]
    name, svc = edge
    problems: Problems = []
    config_args = [arg.split("=", 1)[1] for arg in command_args(svc) if arg.lower().startswith("--configfile=")]
    if not config_args:
        return [f"{name}: no --configFile=…: the static configuration would be whatever the image defaults to"]
    found = container_to_host(svc, config_args[0])
    if found is None:
        return [f"{name}: --configFile={config_args[0]} is not mounted"]
    static_path, mount = found
    if not mount["read_only"]:
        problems.append(f"{name}: {mount['target']} should be mounted read-only")
    if not static_path.is_file():
        return problems + [f"{name}: {config_args[0]} is mounted from {static_path}, which does not exist"]
    static = yaml.safe_load(static_path.read_text()) or {}
    workdir = PurePosixPath(svc.get("working_dir") or "/")

    def resolve(path: str) -> str:
        return str(PurePosixPath(path) if path.startswith("/") else workdir / path)

    file_provider = (static.get("providers") or {}).get("file") or {}
    dynamic_files: list[Path] = []
    for key in ("directory", "filename"):
        if key in file_provider:
            found = container_to_host(svc, resolve(file_provider[key]))
            if found is None:
                problems.append(f"{name}: providers.file.{key} {file_provider[key]!r} resolves to {resolve(file_provider[key])}, which is not mounted")
            elif not found[0].exists():
                problems.append(f"{name}: providers.file.{key} is mounted from {found[0]}, which does not exist")
            else:
                if not found[1]["read_only"]:
                    problems.append(f"{name}: {found[1]['target']} should be mounted read-only")
                dynamic_files += sorted(found[0].glob("*.y*ml")) if found[0].is_dir() else [found[0]]
    for plugin, spec in ((static.get("experimental") or {}).get("localPlugins") or {}).items():
        # Traefik loads local plugins from ./plugins-local/src/<moduleName>, relative to its working directory.
        where = resolve(f"plugins-local/src/{spec['moduleName']}")
        found = container_to_host(svc, where)
        if found is None or not found[0].is_dir():
            problems.append(f"{name}: local plugin {plugin} must be mounted at {where}")
    env = environment(svc)
    read: set[str] = set()
    for dynamic in dynamic_files:
        text = dynamic.read_text()
        read |= set(re.findall(r'env\s+"([A-Za-z_][A-Za-z0-9_]*)"', text))
        # A backend's URL is the variable itself, with no default: compose must set it, to a service.
        # Except a backend that exists only when its variable is set (`{{ if env "X" }}`: the bench
        # profile's baseline app), which compose must leave unset.
        optional = set(re.findall(r'\{\{\s*if\s+env\s+"([A-Za-z_][A-Za-z0-9_]*)"\s*\}\}', text))
        for variable in sorted(set(re.findall(r'url:\s*[\'"]\{\{\s*env\s+"([A-Za-z_][A-Za-z0-9_]*)"\s*\}\}', text))):
            value = env.get(variable)
            if variable in optional:
                if value:
                    problems.append(f"{name}: {dynamic.name} routes to {variable} only where it is set (benchmarks); compose must not set it")
            elif not value:
                problems.append(f"{name}: {dynamic.name} reads {variable} from the environment, which compose does not set")
            else:
                problems += backend_url_problems(doc, name, variable, value)
    # The edge's own settings have defaults in the templates; one that compose sets but no template
    # reads (a typo) would be ignored without a word.
    for variable in sorted(v for v in env if v.startswith("EDGE_") and v not in read):
        problems.append(f"{name}: compose sets {variable}, which no file of the dynamic configuration reads")
    entry_ports = {}
    for entry_point, spec in (static.get("entryPoints") or {}).items():
        port = re.search(r":(\d+)(?:/\w+)?$", str((spec or {}).get("address", "")))
        if port:
            entry_ports[entry_point] = int(port[1])
    internal = {(static.get("ping") or {}).get("entryPoint"), ((static.get("metrics") or {}).get("prometheus") or {}).get("entryPoint")}
    for port in published_container_ports(svc):
        matching = [ep for ep, p in entry_ports.items() if p == port]
        if not matching:
            problems.append(f"{name}: publishes container port {port}, which no entry point listens on")
        elif set(matching) & internal:
            problems.append(f"{name}: publishes the internal entry point {matching[0]} (ping/metrics)")
    return problems


def backend_url_problems(doc: Compose, edge_name: str, variable: str, url: str) -> Problems:
    match = re.fullmatch(r"https?://(?P<host>[^:/]+):(?P<port>\d+)/?", url)
    if match is None:
        return [f"{edge_name}: {variable}={url!r} is not http://<service>:<port>"]
    host, port = match["host"], int(match["port"])
    target = services(doc).get(host)
    if target is None:
        return [f"{edge_name}: {variable} points at {host}, which is not a service"]
    problems: Problems = []
    if not networks_of(target) & networks_of(services(doc)[edge_name]):
        problems.append(f"{edge_name}: {variable} points at {host}, which shares no network with the edge")
    dockerfile = dockerfile_of(target)
    if dockerfile is not None and dockerfile.is_file():
        exposed = {int(p.split("/")[0]) for keyword, args in dockerfile_stages(dockerfile.read_text())[-1] if keyword == "EXPOSE" for p in args.split()}
        if port not in exposed:
            problems.append(f"{edge_name}: {variable} uses port {port}, but {host}'s image exposes {sorted(exposed)}")
    return problems


# Settings naming the peers whose X-Forwarded-For a service believes: uvicorn's, and our services' own.
TRUSTED_PROXY_SETTINGS = ("FORWARDED_ALLOW_IPS", "AUTH_TRUSTED_PROXIES", "GATEWAY_TRUSTED_PROXIES")


def _proxy_entries(value: str) -> list[str]:
    """A trusted-proxy setting's entries: a JSON list (pydantic list fields) or comma-separated."""
    text = value.strip()
    if text.startswith("["):
        entries = json.loads(text)
        if not isinstance(entries, list):
            raise ValueError(text)
        return [str(entry).strip() for entry in entries]
    return [part.strip() for part in text.split(",") if part.strip()]


def trusted_proxy_problems(doc: Compose) -> Problems:
    """Services believe X-Forwarded-For from the edge's fixed address, and from nothing else.

    The address must be one Docker can give the edge and no other container: inside a subnet the
    network declares (Docker only fixes addresses there), outside that subnet's `ip_range` (the pool
    other containers draw from, whoever starts first) and not its gateway. A setting that names
    anything else either lets that address pose as any client (a whole network, another container)
    or never matches, and every client then looks like the edge: one throttle bucket for the world.
    (`*`, believing any peer, is `edge_problems`' business: safe only while Traefik replaces the header.)
    """
    edge = traefik_service(doc)
    if edge is None:
        return ["no traefik service"]
    edge_name, edge_svc = edge
    problems: Problems = []
    declared = doc.get("networks") or {}
    fixed: set[IPv4Address | IPv6Address] = set()
    attachments = edge_svc.get("networks") if isinstance(edge_svc.get("networks"), dict) else {}
    for net, spec in attachments.items():
        for key in ("ipv4_address", "ipv6_address"):
            if not (spec or {}).get(key):
                continue
            try:
                address = ip_address(str(spec[key]))
            except ValueError:
                problems.append(f"{edge_name}: {key} {spec[key]!r} on {net} is not an address")
                continue
            fixed.add(address)
            configs = (((declared.get(net) or {}).get("ipam") or {}).get("config")) or []
            pools = [c for c in configs if c.get("subnet") and address in ip_network(str(c["subnet"]), strict=False)]
            if not pools:
                problems.append(f"{edge_name}: {key} {address} lies in no ipam subnet of network {net}; "
                                "Docker fixes addresses only on a network with a configured subnet")
            for config in pools:
                subnet = ip_network(str(config["subnet"]), strict=False)
                gateway = ip_address(str(config["gateway"])) if config.get("gateway") else subnet.network_address + 1
                if address in (subnet.network_address, gateway) or (subnet.version == 4 and address == subnet.broadcast_address):
                    problems.append(f"{edge_name}: {key} {address} is {net}'s network, gateway or broadcast address")
                if not config.get("ip_range"):
                    problems.append(f"{edge_name}: {net}'s subnet {subnet} has no ip_range: Docker may give {address} "
                                    f"to a container that starts before {edge_name}")
                elif address in ip_network(str(config["ip_range"]), strict=False):
                    problems.append(f"{edge_name}: {key} {address} lies inside {net}'s ip_range {config['ip_range']}, "
                                    "the pool other containers draw from")
    for name, svc in services(doc).items():
        env = environment(svc)
        for variable in TRUSTED_PROXY_SETTINGS:
            value = env.get(variable)
            if value is None or value.strip() == "*":
                continue
            try:
                trusted = [ip_network(entry, strict=False) for entry in _proxy_entries(value)]
            except ValueError:  # json.JSONDecodeError is one
                problems.append(f"{name}: {variable}={value!r} is not a list of addresses or networks")
                continue
            if not fixed:
                problems.append(f"{name}: {variable} trusts {value}, but {edge_name} has no fixed address "
                                "(networks: <name>: ipv4_address), so its address is not known")
                continue
            for network in trusted:
                if network.num_addresses != 1 or network.network_address not in fixed:
                    problems.append(f"{name}: {variable} trusts {network}, which is not (only) {edge_name}'s fixed "
                                    f"address {', '.join(map(str, sorted(fixed, key=str)))}: it could pose as any client")
            if not any(network.network_address in fixed for network in trusted if network.num_addresses == 1):
                problems.append(f"{name}: {variable} does not name {edge_name}'s fixed address: every client would look like the edge")
    return problems
