"""Request and response bodies shared by several routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from plant_shared.openapi_errors import VALIDATION_ERROR
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from auth_service.models import Role, Tier

ClientKind = Literal["web", "mobile"]
# Generous for a password, small enough that no request can make us hash megabytes.
PasswordField = Field(min_length=1, max_length=1024)


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it at the edge of the API, not as a 500 later."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Any text that reaches a query: an email address (not validated here; register does that).
Email = Annotated[str, Field(min_length=1, max_length=320), AfterValidator(no_nul)]


class Message(BaseModel):
    """A sentence and a machine code, like the error envelope, for answers that carry no data."""

    detail: str
    code: str


# Every route with parameters or a body. FastAPI's own 422 document (`detail` as a list) is not
# what the error handler answers, and it leaves out the 400 of a body that is not JSON at all.
REQUEST_ERRORS: dict[int | str, dict[str, object]] = {400: {"model": Message, "description": "The body is not valid JSON."}, **VALIDATION_ERROR}


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(default=None, description="Mobile clients only; web clients get the plant_refresh cookie instead.")
    refresh_expires_in: int | None = Field(default=None, description="Seconds until the refresh token expires (mobile clients).")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    tier: Tier
    created_at: datetime


class AdminUserOut(UserOut):
    is_active: bool
    updated_at: datetime
    password_changed_at: datetime | None
