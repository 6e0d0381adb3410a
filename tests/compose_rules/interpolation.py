"""Compose interpolation: the subset of the spec the compose file may use."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from tests.compose_rules.load import Compose

_DOLLAR = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.DOTALL)


class MissingVariables(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Substitute `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR:+x}`, `$$`.

    Raises:
        MissingVariables: naming every required variable that is unset (or empty, for `:?`).
    """
    errors: list[str] = []

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.match(match["braced"])
        if braced is None:
            errors.append(f"invalid interpolation ${{{match['braced']}}}")
            return ""
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        is_set, value_ = name in env, env.get(name, "")
        if op in (None, ""):
            return value_
        if op in (":-", "-"):
            return value_ if (value_ if op == ":-" else is_set) else arg
        if op in (":+", "+"):
            return arg if (value_ if op == ":+" else is_set) else ""
        if not (value_ if op == ":?" else is_set):  # ":?" or "?"
            errors.append(f"{name}: {arg}")
        return value_

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str):
            return _DOLLAR.sub(one, node)
        return node

    result = walk(value)
    if errors:
        raise MissingVariables(sorted(set(errors)))
    return result


def required_variables(doc: Compose) -> set[str]:
    """Every variable the file requires with `${VAR:?…}` or `${VAR?…}`."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", json.dumps(doc)))


def placeholder_env(doc: Compose) -> dict[str, str]:
    """A value for every required variable, shaped like a real one (random, URL-safe, 64 characters)."""
    return {name: ("https://plants.example.org" if "URL" in name else secrets.token_hex(32)) for name in required_variables(doc)}
