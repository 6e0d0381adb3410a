"""The error envelope as OpenAPI response models, for the FastAPI services' `responses=`.

FastAPI documents its own 422 (`detail` as a list of field errors); the services' error handler
(`fastapi_support.install_error_handlers`) answers the envelope instead, with the field errors under
`errors`. Routes declare `responses=VALIDATION_ERROR` so the document says what clients get.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="A sentence for people.")
    code: str = Field(description="A stable machine code.")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: `body`, `query`, `path` or `header`, then the field.")
    msg: str
    type: str


class ValidationErrorBody(ErrorBody):
    """A 422: the envelope, with every field error when the request did not match its schema."""

    errors: list[FieldError] = Field(default_factory=list, description="Each invalid field (absent for rule checks such as a weak password).")


VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {422: {"model": ValidationErrorBody, "description": "The request does not match its schema."}}
