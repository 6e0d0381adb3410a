"""Plant.id (Kindwise) v3 `POST /api/v3/identification`, as external-apis.md section 1 describes it.

Errors are the bare sentences Kindwise documents, as text (v2 sent them so; v3's content type is
unconfirmed, so clients must parse leniently). Also served: `GET /usage_info` (section 1.6), free.
Not yet served: `async=true`, GET/DELETE by access token, feedback, the knowledge base.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from devstack.provider_standin.catalogue import DISEASES, Match, Species, identify, inspect
from devstack.provider_standin.control import Mode, before_answer

MODEL_VERSION = "plant_id:3.4.1"
OUT_OF_CREDITS = "The specified api key does not have sufficient number of available credits."
MAX_IMAGES = 5
MEDIA = "https://standin.invalid"  # reserved TLD: links that plainly lead nowhere

router = APIRouter(tags=["Plant.id v3"])


class PlantIdError(Exception):
    def __init__(self, status: int, sentence: str) -> None:
        self.status, self.sentence = status, sentence


def _text(status: int, sentence: str) -> PlainTextResponse:
    return PlainTextResponse(sentence, status_code=status)


def _check_key(request: Request) -> None:
    key = request.headers.get("api-key")
    if key is None and (auth := request.headers.get("authorization")):
        # HTTP Basic with user `client` and the key as password is the documented alternative.
        scheme, _, encoded = auth.partition(" ")
        try:
            user, _, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if scheme.lower() != "basic" or user != "client":
            raise PlantIdError(401, "Invalid authorization header.")
    if not key:
        raise PlantIdError(401, "No api key provided.")
    if not secrets.compare_digest(key, request.app.state.keys["plant_id"]):
        raise PlantIdError(401, "The specified api key not found.")


def _decode_images(body: dict[str, Any]) -> list[bytes]:
    images = body.get("images")
    if not images:
        raise PlantIdError(400, "Missing image data")
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise PlantIdError(400, "Images have to be list of base64 strings")
    if len(images) > MAX_IMAGES:
        raise PlantIdError(400, f"Too many images, the maximum is {MAX_IMAGES}.")  # sentence not documented [U]
    decoded = []
    for image in images:
        if image.startswith("data:"):  # data URIs are accepted as well as plain base64
            image = image.partition(",")[2]
        try:
            decoded.append(base64.b64decode(image, validate=True))
        except binascii.Error:
            raise PlantIdError(400, "Invalid base64 image data") from None
    return decoded


def _parse_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise PlantIdError(400, "Missing json data")
    try:
        body = json.loads(raw)
    except ValueError:
        raise PlantIdError(400, "Invalid json data") from None
    if not isinstance(body, dict):
        raise PlantIdError(400, "Data have to be dict")
    when = body.get("datetime")
    if when is not None:
        # Live tests found a trailing "Z" and Unix timestamps rejected; offsets or naive times pass.
        if not isinstance(when, str) or when.endswith(("Z", "z")):
            raise PlantIdError(400, "Datetime is not in ISO format")
        try:
            datetime.fromisoformat(when)
        except ValueError:
            raise PlantIdError(400, "Datetime is not in ISO format") from None
    if body.get("health") not in (None, "all", "only"):
        raise PlantIdError(400, "Invalid health value")
    return body


def _similar_images(seed: str, count: int = 2) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        image_id = hashlib.sha1(f"{seed}:{n}".encode()).hexdigest()
        out.append({
            "id": image_id,
            "url": f"{MEDIA}/similar_images/{image_id}.jpeg",
            "url_small": f"{MEDIA}/similar_images/{image_id}.small.jpeg",
            "similarity": round(0.78 - 0.11 * n, 3),
            "license_name": "CC BY-SA 4.0",
            "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
            "citation": "Plant Community provider stand-in",
        })
    return out


def _suggestion(entity: str, name: str, probability: float, *, details: dict[str, Any], similar: bool) -> dict[str, Any]:
    suggestion: dict[str, Any] = {"id": entity, "name": name, "probability": probability}
    if similar:
        suggestion["similar_images"] = _similar_images(entity)
    suggestion["details"] = details
    return suggestion


def _classification(match: Match, body: dict[str, Any], views: list[str], language: str, similar: bool) -> dict[str, Any]:
    def details(species: Species, entity: str, genus: bool = False) -> dict[str, Any]:
        known = {} if genus else species.plant_id_details()
        return {**{view: known.get(view) for view in views}, "language": language, "entity_id": entity}

    species = [_suggestion(s.plant_id_entity, s.name, p, details=details(s, s.plant_id_entity), similar=similar) for s, p in match.ranked]
    top, top_p = match.ranked[0]
    genus_entity = hashlib.sha256(top.genus.encode()).hexdigest()[:16]
    genus = [_suggestion(genus_entity, top.genus, round(min(1.0, top_p * 1.02), 5), details=details(top, genus_entity, True), similar=similar)]
    if body.get("classification_raw"):
        return {"suggestions": {"genus": genus, "species": species}}
    return {"suggestions": genus if body.get("classification_level") == "genus" else species}


def _health(match: Match, language: str, similar: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    healthy_p = round(match.digest[7] / 255, 4)
    diseases = [
        _suggestion(entity, name, round((1 - healthy_p) * (0.6 - 0.25 * n), 5), details={"language": language, "entity_id": entity}, similar=similar)
        for n, (entity, name) in enumerate(DISEASES[:2])
    ]
    return {"probability": healthy_p, "binary": healthy_p >= 0.525, "threshold": 0.525}, {"suggestions": diseases}


def answer(match: Match, body: dict[str, Any], images: list[bytes], views: list[str], language: str) -> dict[str, Any]:
    """The identification object of section 1.4, with every key the official SDK requires."""
    created = time.time()
    similar = bool(body.get("similar_images", False))  # the server's default is unconfirmed [U]
    echo: dict[str, Any] = {
        "latitude": body.get("latitude"),
        "longitude": body.get("longitude"),
        "similar_images": similar,
        "images": [f"{MEDIA}/media/imgs/{hashlib.md5(i).hexdigest()}.jpg" for i in images],  # stored copies, not base64
        "datetime": body.get("datetime") or datetime.now(UTC).isoformat(),
    }
    for optional in ("health", "classification_level", "classification_raw"):
        if optional in body:
            echo[optional] = body[optional]
    is_plant_p = round(0.97 + match.digest[8] / 255 * 0.03, 4) if match.is_plant else round(match.digest[8] / 255 * 0.1, 4)
    result: dict[str, Any] = {"is_plant": {"probability": is_plant_p, "binary": match.is_plant, "threshold": 0.5}}
    if body.get("health") != "only":
        result["classification"] = _classification(match, body, views, language, similar)
    if body.get("health") in ("all", "only"):
        result["is_healthy"], result["disease"] = _health(match, language, similar)
    return {
        "access_token": secrets.token_urlsafe(11)[:15],
        "model_version": MODEL_VERSION,
        "custom_id": body.get("custom_id"),
        "input": echo,
        "result": result,
        "status": "COMPLETED",
        "sla_compliant_client": True,
        "sla_compliant_system": True,
        "created": created,
        "completed": time.time(),
    }


@router.post("/api/v3/identification", status_code=201)
@router.post("/v3/identification", status_code=201, include_in_schema=False)  # the api.plant.id/v3 host form
async def create_identification(request: Request) -> Response:
    """Plant.id v3: identify the base64 `images` of one plant (JSON body, `Api-Key` header)."""
    call = await before_answer(request, "plant_id")
    if call.dropped is not None:
        return call.dropped
    engine = call.engine
    if call.fail:
        return _server_error(engine.fail_status)
    try:
        _check_key(request)
        body = _parse_body(await request.body())
        cost = 2 if body.get("health") == "all" else 1  # health assessment costs one credit more
        if engine.mode is Mode.QUOTA or engine.remaining < cost:
            raise PlantIdError(429, OUT_OF_CREDITS)
        images = _decode_images(body)
        pictures = [inspect(i) for i in images]
        if not all(p.decodable for p in pictures):
            raise PlantIdError(400, "Invalid image data")
    except PlantIdError as error:
        return _text(error.status, error.sentence)
    views = [v for v in request.query_params.get("details", "").split(",") if v]
    language = (request.query_params.get("language") or request.query_params.get("lang") or "en").split(",")[0]
    engine.remaining -= cost
    return JSONResponse(answer(identify(images, pictures), body, images, views, language), status_code=201)


def _server_error(status: int) -> Response:
    """An injected 5xx; Plant.id's 5xx bodies are undocumented [U], so the status phrase as text."""
    return _text(status, HTTPStatus(status).phrase)


@router.get("/api/v3/usage_info")
@router.get("/v3/usage_info", include_in_schema=False)
async def usage_info(request: Request) -> Response:
    """Plant.id v3: credit limits, usage and what is left (free: not counted against credits, section 1.6)."""
    call = await before_answer(request, "plant_id", counted=False)
    if call.dropped is not None:
        return call.dropped
    engine = call.engine
    if call.fail:
        return _server_error(engine.fail_status)
    try:
        _check_key(request)
    except PlantIdError as error:
        return _text(error.status, error.sentence)
    out_of_credits = engine.mode is Mode.QUOTA or engine.remaining <= 0
    remaining = 0 if out_of_credits else engine.remaining
    used = max(0, engine.quota - engine.remaining)
    return JSONResponse({
        "active": True,
        "credit_limits": {"day": None, "week": None, "month": None, "total": engine.quota},
        "used": {"day": used, "week": used, "month": used, "total": used},
        "can_use_credits": {"value": not out_of_credits, "reason": OUT_OF_CREDITS if out_of_credits else None},
        "remaining": {"day": None, "week": None, "month": None, "total": remaining},
    })
