""".dockerignore matching, as Docker does it: the last matching line decides."""

from __future__ import annotations

import re
from pathlib import PurePosixPath


def dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per line, in order; the last matching line decides, as in Docker."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif line.startswith("**", i):
                regex += ".*"
                i += 2
            elif line[i] == "*":
                regex += "[^/]*"
                i += 1
            elif line[i] == "?":
                regex += "[^/]"
                i += 1
            elif line[i] == "[":
                end = line.index("]", i)
                regex += line[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(line[i])
                i += 1
        patterns.append((negate, re.compile(regex + "$")))
    return patterns


def is_ignored(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for negate, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored
