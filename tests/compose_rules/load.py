"""Loading the repository's files: compose.yaml, the vendored Compose schema, the uv workspace."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
TLS_OVERRIDE_FILE = ROOT / "compose.tls.yaml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec" / "compose-spec.json"
DOCKERIGNORE = ROOT / ".dockerignore"

Compose = dict[str, Any]
Problems = list[str]


def load_compose(path: Path = COMPOSE_FILE) -> Compose:
    """The compose file as compose sees it before interpolation (YAML anchors and merges resolved)."""
    return yaml.safe_load(path.read_text())


# Compose's merge rules for `-f base -f override` (compose-spec "merge.md"), for the keys we use:
# mappings merge key by key; these sequences are replaced whole...
_REPLACED = {"command", "entrypoint", "test"}
# ...these merge entry by entry, an override replacing the base entry with the same key...
_KEYED: dict[str, Any] = {
    "volumes": lambda entry: (entry.get("target") if isinstance(entry, dict) else str(entry).split(":")[1] if ":" in str(entry) else str(entry)),
    "ports": lambda entry: str(entry.get("target") if isinstance(entry, dict) else entry),
    "tmpfs": str,
}
# ...and every other sequence is the union of both, in order.


def merge_compose(base: Any, override: Any, key: str | None = None) -> Any:
    """`override` applied on top of `base`, as `docker compose -f base -f override` does."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge_compose(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED:
        if key in _KEYED:
            identity = _KEYED[key]
            replaced = {identity(entry): entry for entry in override}
            kept = [replaced.pop(identity(entry), entry) for entry in base]
            return kept + [entry for entry in override if identity(entry) in replaced]
        return base + [entry for entry in override if entry not in base]
    return override


def load_compose_with(*overrides: Path) -> Compose:
    """compose.yaml with override files applied in order (each as compose reads it before interpolation)."""
    doc = load_compose()
    for path in overrides:
        doc = merge_compose(doc, load_compose(path))
    return doc


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def workspace_members() -> list[str]:
    """Directories of the uv workspace's members, from the root pyproject.toml."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(root["tool"]["uv"]["workspace"]["members"])


def package_name(directory: Path) -> str:
    return tomllib.loads((directory / "pyproject.toml").read_text())["project"]["name"]
