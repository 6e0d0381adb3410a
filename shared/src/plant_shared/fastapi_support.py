"""Glue for the FastAPI services: error envelope handlers, probes, metrics, request ids, bearer tokens.

Needs the `fastapi` extra of this package.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Awaitable, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from plant_shared.errors import ApiError, default_code, error_body
from plant_shared.health import Check, run_checks
from plant_shared.metrics import ObservabilityMiddleware, render_metrics
from plant_shared.outages import OUTAGE_CODE, OUTAGE_DETAIL, RETRY_AFTER_S, is_dependency_outage
from plant_shared.request_id import RequestIdMiddleware, Scope
from plant_shared.tokens import TOKEN_INVALID, Claims, TokenError, TokenVerifier, extract_bearer

log = logging.getLogger(__name__)

ReadyChecks = Callable[[Request], dict[str, Check]]


def _describe_validation(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"Invalid request: {where}: {first.get('msg', 'invalid value')}."


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str | None:
    """Every method the request's path answers, for a 405's `Allow`.

    Starlette's 405 names only the methods of the first route whose path matched, while one path
    (`/me`: GET, PATCH, DELETE) is often several routes. Each method is tried against the routes
    (included routers too) through their public `matches`.
    """
    methods = {
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in request.app.router.routes)
    }
    return ", ".join(sorted(methods)) or None


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, including unexpected ones, with the `{"detail", "code"}` envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.code), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if detail == HTTPStatus(exc.status_code).phrase:  # Starlette's bare phrase: make it a sentence
            detail = detail.capitalize() + "."
        headers = exc.headers
        if exc.status_code == 405:
            allow = allowed_methods(request)
            headers = {**(headers or {}), **({"Allow": allow} if allow else {})}
        return JSONResponse(error_body(detail, default_code(exc.status_code)), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse(error_body(_describe_validation(exc), "validation_error", errors=errors), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_dependency_outage(exc):  # e.g. PostgreSQL restarting: retry later, not a bug
            log.error("dependency unavailable: %r", exc)
            return JSONResponse(error_body(OUTAGE_DETAIL, OUTAGE_CODE), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("Internal server error.", "internal_error"), status_code=500)


def add_probes(app: FastAPI, ready_checks: ReadyChecks) -> None:
    """`/livez` (process up), `/readyz` (dependencies answer) and `/metrics`: internal, never routed by the edge."""

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        ok, report = await run_checks(ready_checks(request))
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": report}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)


# FastAPI's native OpenTelemetry, off: the platform observes itself through Prometheus, JSON logs
# with request ids and Sentry, and exports no traces. On, FastAPI asks the global OpenTelemetry
# providers (three `os.environ` look-ups) on every request: about 4 µs of a 33 µs trivial request,
# and 7 % of the gateway's CPU on a cache hit (py-spy). Pass as `FastAPI(telemetry=NO_OPENTELEMETRY)`.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def instrument(app: FastAPI, *, service: str, ready_checks: ReadyChecks) -> FastAPI:
    """Everything a FastAPI service gets from the start: envelope, probes, metrics, request ids."""
    install_error_handlers(app)
    add_probes(app, ready_checks)
    app.add_middleware(ObservabilityMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)  # added last = outermost: ids are bound before anything logs
    return app


# --- bearer tokens ----------------------------------------------------------------------------

VerifierGetter = Callable[[Request], TokenVerifier]
ClaimsDependency = Callable[[Request], Awaitable[Claims | None]]

_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
_VERIFIED_IN_REQUEST = "plant_shared.verified_token"  # ASGI scope key: (verifier, token, claims) of this request


def token_error_to_api_error(exc: TokenError) -> ApiError:
    """The envelope for a refused token: 401 with a Bearer challenge, or 503 when unverifiable."""
    if exc.status == 503:
        return ApiError(503, exc.detail, exc.code, headers={"Retry-After": "5"})
    return ApiError(exc.status, exc.detail, exc.code, headers=dict(_INVALID_TOKEN_CHALLENGE))


class PlatformBearer(HTTPBearer):
    """A FastAPI dependency yielding the verified `Claims` of `Authorization: Bearer <token>`.

    Also a security scheme, so the routes using it show the bearer requirement in OpenAPI.
    Build it with `bearer_claims`.

    It is on the path of every authenticated request, so it does little per request: one pass
    over the raw ASGI headers (no `Headers` object, none of `HTTPBearer`'s own parsing), then for
    a token the verifier has seen, `TokenVerifier.settled` (a dictionary look-up plus the expiry
    and in-memory deny-list checks, nothing awaited). Anything else goes through `verify`, once
    per request even when a route depends on several of these (FastAPI caches each dependency
    separately): a second one with the same verifier and the same token takes the first one's
    claims.
    """

    def __init__(self, verifier_getter: VerifierGetter, *, required: bool, missing_detail: str) -> None:
        super().__init__(
            bearerFormat="JWT", scheme_name="PlatformBearer", description="Access token from the auth service.", auto_error=required
        )
        self.verifier_getter = verifier_getter
        self.required = required
        self.missing_detail = missing_detail

    async def __call__(self, request: Request) -> Claims | None:  # type: ignore[override]
        scope = request.scope
        value: bytes | None = None
        for name, raw in scope["headers"]:  # ASGI header names are lower-case bytes
            if name == b"authorization":
                if value is not None:
                    raise token_error_to_api_error(TokenError(TOKEN_INVALID, "Send exactly one Authorization header."))
                value = raw
        try:
            if value is None:
                claims = self._absent()
            else:
                verifier = self.verifier_getter(request)
                # The usual request, a token this verifier already verified, is settled from memory
                # without awaiting. Only an exact remembered token matches, and each of those once
                # passed `extract_bearer` and the whole verification; anything else takes `_verify`.
                claims = verifier.settled(value[7:].decode("latin-1")) if value.startswith(b"Bearer ") else None
                if claims is None:
                    claims = await self._verify(verifier, scope, value.decode("latin-1"))
        except TokenError as exc:
            raise token_error_to_api_error(exc) from None
        return claims

    def _absent(self) -> None:
        """No Bearer token: 401 when required, else no claims."""
        if self.required:
            raise ApiError(401, self.missing_detail, "not_authenticated", headers={"WWW-Authenticate": "Bearer"})
        return None

    async def _verify(self, verifier: TokenVerifier, scope: Scope, authorization: str) -> Claims | None:
        token = extract_bearer(authorization)
        if token is None:  # another scheme
            return self._absent()
        verified = scope.get(_VERIFIED_IN_REQUEST)
        if verified is not None and verified[0] is verifier and verified[1] == token:
            return verified[2]  # another of these dependencies verified it in this request
        claims = await verifier.verify(token)
        scope[_VERIFIED_IN_REQUEST] = (verifier, token, claims)
        return claims


def bearer_claims(
    verifier_getter: VerifierGetter, *, required: bool = True, missing_detail: str = "Authentication required."
) -> PlatformBearer:
    """A dependency returning the request's verified token claims.

    Usage: `CurrentClaims = Annotated[Claims, Depends(bearer_claims(lambda r: r.app.state.verifier))]`.

    Args:
        verifier_getter: returns the process's `TokenVerifier`; called on every authenticated
            request, so best a plain attribute read (the gateway: `request.app.resources.verifier`,
            see `GatewayApp`); `request.app.state.x` works too, at about a microsecond a read.
        required: when False, a request without a Bearer token gets None (a bad token still gets 401).
        missing_detail: the 401 sentence when no token was sent.

    Raises:
        ApiError: 401 (`not_authenticated`, `token_invalid`, `token_expired`, `token_revoked`) with
            a `WWW-Authenticate: Bearer` challenge, or 503 `auth_unavailable`.
    """
    return PlatformBearer(verifier_getter, required=required, missing_detail=missing_detail)


def _must(claims: Claims | None) -> Claims:
    if claims is None:
        raise ApiError(401, "Authentication required.", "not_authenticated", headers={"WWW-Authenticate": "Bearer"})
    return claims


def require_role(*roles: str, claims: ClaimsDependency) -> Callable[..., Awaitable[Claims]]:
    """A dependency passing only tokens that carry one of `roles`; returns the claims.

    Args:
        roles: accepted roles (any one suffices).
        claims: the dependency from `bearer_claims` (shared, so the token is verified once).

    Raises:
        ApiError: 401 without a token; 403 `permission_denied` without any of the roles.
    """
    if not roles:
        raise ValueError("require_role needs at least one role")
    wanted = ", ".join(roles)

    async def dependency(current: Claims | None = Depends(claims)) -> Claims:
        checked = _must(current)
        if not checked.has_role(*roles):
            raise ApiError(403, f"This action needs one of these roles: {wanted}.", "permission_denied")
        return checked

    return dependency


def require_scope(scope: str, *, claims: ClaimsDependency) -> Callable[..., Awaitable[Claims]]:
    """A dependency passing only tokens whose `scope` includes `scope` (e.g. `internal`); returns the claims.

    Raises:
        ApiError: 401 without a token; 403 `insufficient_scope` (RFC 6750) without the scope.
    """

    async def dependency(current: Claims | None = Depends(claims)) -> Claims:
        checked = _must(current)
        if not checked.has_scope(scope):
            raise ApiError(
                403,
                f"This endpoint needs the `{scope}` scope.",
                "insufficient_scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return checked

    return dependency
