"""The stand-in's ASGI app: `uvicorn devstack.provider_standin.app:app`.

Accepted keys come from STANDIN_PLANT_ID_API_KEY and STANDIN_PLANTNET_API_KEY; unset, they are
development keys whose `dev-insecure-` prefix the services' production guards refuse.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from devstack.provider_standin import control, gbif, plant_id, plantnet

DEFAULT_PLANT_ID_KEY = "dev-insecure-standin-plant-id-key"
DEFAULT_PLANTNET_KEY = "dev-insecure-standin-plantnet-key"
LABEL = (b"x-provider-standin", b"true")


class StandinMiddleware:
    """Pure ASGI: label every response as the stand-in's, and expose the connection's transport.

    The transport (uvicorn's, reached through its `receive`) is what `down` mode aborts.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["transport"] = getattr(getattr(receive, "__self__", None), "transport", None)

        async def send_labelled(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), LABEL]
            await send(message)

        await self.app(scope, receive, send_labelled)


def create_app(*, plant_id_key: str | None = None, plantnet_key: str | None = None) -> FastAPI:
    """Build the stand-in with fresh state; keys default to the environment, then to development keys."""
    app = FastAPI(title="Provider stand-in (Plant.id v3, Pl@ntNet v2, GBIF species match)", docs_url="/_standin/docs", openapi_url="/_standin/openapi.json", redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False})  # as the services
    app.state.keys = {
        "plant_id": plant_id_key or os.environ.get("STANDIN_PLANT_ID_API_KEY") or DEFAULT_PLANT_ID_KEY,
        "plantnet": plantnet_key or os.environ.get("STANDIN_PLANTNET_API_KEY") or DEFAULT_PLANTNET_KEY,
    }
    app.state.standin = control.StandinState()

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    app.include_router(plant_id.router)
    app.include_router(plantnet.router)
    app.include_router(gbif.router)
    app.include_router(control.router)
    app.add_middleware(StandinMiddleware)
    return app


app = create_app()
