"""Docs stay true: every setting a service reads is documented in the README's settings table."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCUMENTED = set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]+)`", README, flags=re.MULTILINE))

# pydantic-settings classes: (module, class, environment prefix).
PYDANTIC_SETTINGS = [
    ("auth_service.config", "Settings", "AUTH_"),
    ("identify_gateway.config", "Settings", "GATEWAY_"),
]
# The CMS reads its environment through plant_cms.settings.env helpers: env.text("NAME", …) etc.
CMS_SETTINGS_DIR = ROOT / "cms" / "src" / "plant_cms" / "settings"
CMS_READERS = {"required", "text", "flag", "integer", "listing", "path", "redis_url", "secret"}


def pydantic_variables(module: str, cls: str, prefix: str) -> set[str]:
    settings = getattr(importlib.import_module(module), cls)
    return {prefix + name.upper() for name in settings.model_fields}


def cms_variables() -> set[str]:
    found = set()
    for source in CMS_SETTINGS_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "env"
                and node.func.attr in CMS_READERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add("CMS_" + node.args[0].value)
    return found


def all_variables() -> set[str]:
    variables = cms_variables()
    for module, cls, prefix in PYDANTIC_SETTINGS:
        variables |= pydantic_variables(module, cls, prefix)
    return variables


def test_the_readme_documents_every_setting() -> None:
    missing = sorted(all_variables() - DOCUMENTED)

    assert not missing, f"add these to the README's settings table: {missing}"


# The edge's backend URLs share prefixes with the services' settings but are Traefik's (routes.yml).
EDGE_BACKENDS = {"AUTH_SERVICE_URL", "GATEWAY_URL", "GATEWAY_EXTRA_URLS", "CMS_URL", "STATIC_URL"}


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    stale = sorted(v for v in DOCUMENTED - all_variables() - EDGE_BACKENDS if v.split("_", 1)[0] in {"AUTH", "GATEWAY", "CMS"})

    assert not stale, f"the README documents settings nothing reads: {stale}"


@pytest.mark.parametrize("command", ["make dev", "make test"])
def test_the_readme_shows_the_two_commands(command: str) -> None:
    assert command in README
