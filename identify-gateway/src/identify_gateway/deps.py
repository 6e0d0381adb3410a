"""Typed dependency aliases: handlers declare what they need, never build clients themselves."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identify_gateway.resources import Resources


async def get_resources(request: Request) -> Resources:
    # async: a plain `def` dependency runs in the thread pool, a hop per request that costs more than the whole lookup
    return request.app.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]
