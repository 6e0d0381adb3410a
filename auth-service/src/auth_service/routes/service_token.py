"""Service-to-service tokens: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Literal
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Request
from plant_shared.errors import ApiError
from pydantic import BaseModel, Field, ValidationError

from auth_service.deps import KeyRingDep, SessionDep, SettingsDep
from auth_service.schemas import Message
from auth_service.service_clients import authenticate_client
from auth_service.tokens_issue import issue_service_token

router = APIRouter(prefix="/api/v1/auth", tags=["service tokens"])

_FORM = "application/x-www-form-urlencoded"


class ClientCredentialsRequest(BaseModel):
    grant_type: str = Field(max_length=64)
    audience: str | None = Field(default=None, max_length=64, description="The service the token is for, e.g. `cms`.")
    client_id: str | None = Field(default=None, max_length=256, description="Or HTTP Basic.")
    client_secret: str | None = Field(default=None, max_length=1024, description="Or HTTP Basic.")


class ServiceTokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: Literal["internal"] = "internal"


def _invalid_client(basic: bool) -> ApiError:
    headers = {"WWW-Authenticate": 'Basic realm="plant-community-auth"'} if basic else None
    return ApiError(401, "Client authentication failed.", "invalid_client", headers=headers)


async def _read_body(request: Request) -> ClientCredentialsRequest:
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == _FORM:
            data: object = dict(parse_qsl(raw.decode(), keep_blank_values=True, max_num_fields=16, strict_parsing=False))
        elif content_type == "application/json":
            data = json.loads(raw)
        else:
            raise ApiError(415, f"Send the request as {_FORM} (RFC 6749) or application/json.", "unsupported_media_type")
        return ClientCredentialsRequest.model_validate(data)
    except (UnicodeDecodeError, ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError) and exc.errors():
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
            raise ApiError(400, f"Invalid request: {where}: {exc.errors()[0]['msg']}.", "invalid_request") from None
        raise ApiError(400, "Invalid request body.", "invalid_request") from None


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client(basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client(basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote(client_id), unquote(secret)


@router.post(
    "/token",
    response_model=ServiceTokenResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {"schema": ClientCredentialsRequest.model_json_schema()},
                "application/json": {"schema": ClientCredentialsRequest.model_json_schema()},
            },
        }
    },
    responses={
        400: {"model": Message},
        401: {"model": Message, "description": "`invalid_client`: unknown client or wrong secret."},
        415: {"model": Message, "description": "Neither a form nor JSON."},
    },
)
async def client_credentials(request: Request, session: SessionDep, keyring: KeyRingDep, settings: SettingsDep) -> ServiceTokenResponse:
    """Give a service a short-lived token for one audience (`grant_type=client_credentials`, scope `internal`)."""
    body = await _read_body(request)
    if body.grant_type != "client_credentials":
        raise ApiError(400, "Only grant_type=client_credentials is supported here.", "unsupported_grant_type")
    basic = _basic_credentials(request)
    client_id, secret = basic if basic is not None else (body.client_id, body.client_secret)
    if not client_id or not secret:
        raise _invalid_client(basic=basic is not None)
    client = await authenticate_client(session, client_id, secret)
    if client is None:
        raise _invalid_client(basic=basic is not None)
    if not body.audience:
        raise ApiError(400, "Name the service the token is for in `audience`.", "invalid_request")
    if body.audience not in client.audiences:
        raise ApiError(400, f"This client may not ask for tokens for {body.audience!r}.", "invalid_target")
    issued = issue_service_token(
        keyring.signer,
        issuer=settings.issuer,
        client_id=client.client_id,
        audience=body.audience,
        ttl_seconds=settings.service_token_ttl_seconds,
        now=int(time.time()),
    )
    return ServiceTokenResponse(access_token=issued.token, expires_in=issued.expires_in)
