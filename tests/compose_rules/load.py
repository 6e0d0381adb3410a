"""Loading the repository's files: compose.yaml, the vendored Compose schema, the uv workspace."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec" / "compose-spec.json"
DOCKERIGNORE = ROOT / ".dockerignore"

Compose = dict[str, Any]
Problems = list[str]


def load_compose(path: Path = COMPOSE_FILE) -> Compose:
    """The compose file as compose sees it before interpolation (YAML anchors and merges resolved)."""
    return yaml.safe_load(path.read_text())


def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def workspace_members() -> list[str]:
    """Directories of the uv workspace's members, from the root pyproject.toml."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(root["tool"]["uv"]["workspace"]["members"])


def package_name(directory: Path) -> str:
    return tomllib.loads((directory / "pyproject.toml").read_text())["project"]["name"]
