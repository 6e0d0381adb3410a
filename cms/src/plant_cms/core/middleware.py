"""Django middleware feeding the shared ASGI metrics middleware the matched route's template."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest
from django.utils.deprecation import MiddlewareMixin

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")
_CLOSING = {"(": ")", "[": "]"}


def route_label(route: str) -> str:
    """A readable, bounded label for a resolver route.

    `api/v2/pages/<int:pk>/` stays as it is. Regex routes lose anchors and quantifiers, and each
    group, character class or class escape becomes `{name}` or `{}`: `^documents/(\\d+)/(.*)$`
    reads `/documents/{}/{}`.
    """
    out: list[str] = []
    i = 0
    while i < len(route):
        char = route[i]
        if char in _CLOSING:
            named = _NAMED_GROUP.match(route, i)
            out.append("{" + (named.group(1) if named else "") + "}")
            i = _skip_balanced(route, i)
        elif char == "\\":
            escaped = route[i + 1 : i + 2]
            out.append("{}" if escaped.isalpha() else escaped)
            i += 2
        else:
            if char not in "^$*+?":
                out.append(char)
            i += 1
    return "/" + "".join(out)


def _skip_balanced(route: str, start: int) -> int:
    """Index just past the group or class opening at `start` (escapes and nesting respected)."""
    stack, i = [_CLOSING[route[start]]], start + 1
    while i < len(route) and stack:
        char = route[i]
        if char == "\\":
            i += 2
            continue
        if char == stack[-1]:
            stack.pop()
        elif char in _CLOSING and stack[-1] != "]":
            stack.append(_CLOSING[char])
        i += 1
    return i


def _label(request: HttpRequest, template: str) -> None:
    # Only ASGI requests carry the scope the metrics middleware reads; WSGI/test requests have none.
    scope = getattr(request, "scope", None)
    if scope is not None:
        scope["route_template"] = template


class RouteTemplateMiddleware(MiddlewareMixin):
    """Set `scope["route_template"]` (e.g. `/api/v2/pages/<int:pk>/`), never the raw path.

    Metrics labelled by raw path would grow a series per page id; templates keep the count bounded.
    Requests that resolve to no route keep the shared library's `unmatched` label.
    """

    def process_request(self, request: HttpRequest) -> None:
        # WhiteNoise answers static files before URL resolution; give them one label.
        if request.path_info.startswith(settings.STATIC_URL):
            _label(request, f"{settings.STATIC_URL}{{path}}")

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        match = request.resolver_match
        if match is not None and match.route:
            _label(request, route_label(match.route))
