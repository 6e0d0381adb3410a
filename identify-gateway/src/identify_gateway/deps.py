"""Typed dependency aliases: handlers declare what they need, never build clients themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from identify_gateway.config import Settings
from identify_gateway.resources import Resources


async def get_resources(request: Request) -> Resources:
    # async: a plain `def` dependency runs in the thread pool, a hop per request that costs more than the whole lookup
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_app_settings(resources: ResourcesDep) -> Settings:
    return resources.settings


def get_redis(resources: ResourcesDep) -> Redis:
    return resources.redis


def get_plant_id_http(resources: ResourcesDep) -> httpx.AsyncClient:
    return resources.plant_id_http


def get_plantnet_http(resources: ResourcesDep) -> httpx.AsyncClient:
    return resources.plantnet_http


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    async with resources.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
PlantIdHttpDep = Annotated[httpx.AsyncClient, Depends(get_plant_id_http)]
PlantNetHttpDep = Annotated[httpx.AsyncClient, Depends(get_plantnet_http)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
