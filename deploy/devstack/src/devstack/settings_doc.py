"""Print the README's settings tables from the services' Settings classes (`python -m devstack.settings_doc`).

The FastAPI services describe each field (attribute docstrings); the CMS's table is kept by hand
in the README because Django settings are modules, and `tests/test_docs.py` checks it is complete.
"""

from __future__ import annotations

import importlib
import json
from enum import Enum

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

SERVICES = (
    ("auth-service", "auth_service.config", "AUTH_"),
    ("identify-gateway", "identify_gateway.config", "GATEWAY_"),
)


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None:
        return "—"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (dict, list, tuple, frozenset, set)):
        value = json.dumps(sorted(value, key=str) if isinstance(value, (set, frozenset)) else value, default=str)
    return f"`{value}`"


def table(module: str, prefix: str) -> str:
    settings = importlib.import_module(module).Settings
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in settings.model_fields.items():
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


def main() -> None:
    for service, module, prefix in SERVICES:
        print(f"### {service}\n\n{table(module, prefix)}\n")


if __name__ == "__main__":
    main()
