"""Pl@ntNet v2 `POST /v2/identify/{project}`, as external-apis.md section 2 describes it.

Errors use the Hapi/Boom envelope `{"statusCode", "error", "message"}`. Not yet served: the GET
(remote URL) variant, `/v2/quota*`, `/v2/projects`, `/v2/languages`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from devstack.provider_standin.catalogue import Match, Species, identify, inspect
from devstack.provider_standin.control import Mode, before_answer

VERSION = "2025-01-15 (7.3)"
MAX_IMAGES = 5
MAX_PAYLOAD = 50 * 1024 * 1024
ORGANS = ("leaf", "flower", "fruit", "bark", "auto", "habit", "other")
QUERY_PARAMS = {"api-key", "include-related-images", "no-reject", "nb-results", "lang", "type", "detailed"}
MEDIA = "https://standin.invalid"

router = APIRouter(tags=["Pl@ntNet v2"])


class Boom(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message

    def response(self) -> JSONResponse:
        body = {"statusCode": self.status, "error": HTTPStatus(self.status).phrase, "message": self.message}
        return JSONResponse(body, status_code=self.status)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise Boom(400, f'"{name}" must be a boolean')
    return value == "true"


def _check_query(request: Request) -> dict[str, Any]:
    key = request.query_params.get("api-key")
    if not key:
        raise Boom(401, "Missing API key")  # message text unconfirmed [U]
    if not secrets.compare_digest(key, request.app.state.keys["plantnet"]):
        raise Boom(401, "Invalid API key")
    for name in request.query_params:
        if name not in QUERY_PARAMS:
            raise Boom(400, f'"{name}" is not allowed')
    try:
        nb_results = int(request.query_params.get("nb-results", "10"))
    except ValueError:
        raise Boom(400, '"nb-results" must be a number') from None
    if nb_results < 1:
        raise Boom(400, '"nb-results" must be greater than or equal to 1')
    return {
        "related": _flag(request, "include-related-images"),
        "no_reject": _flag(request, "no-reject"),
        "nb_results": nb_results,
        "lang": request.query_params.get("lang", "en"),
    }


async def _read_uploads(request: Request) -> tuple[list[tuple[str, bytes]], list[str]]:
    if int(request.headers.get("content-length") or 0) > MAX_PAYLOAD:
        raise Boom(413, f"Payload content length greater than maximum allowed: {MAX_PAYLOAD}")
    try:
        form = await request.form(max_files=4 * MAX_IMAGES)  # room to answer "too many" ourselves
    except MultiPartException:
        raise Boom(400, "Invalid multipart payload format") from None
    uploads = form.getlist("images")
    organs = [str(o) for o in form.getlist("organs")]
    if not uploads:
        raise Boom(400, '"images" is required')
    if len(uploads) > MAX_IMAGES or not all(isinstance(u, UploadFile) for u in uploads):
        raise Boom(400, f'"images" must contain between 1 and {MAX_IMAGES} files')
    if len(organs) != len(uploads):
        raise Boom(400, "images[] length and organs[] length must be equal")  # wording seen in clients [S]
    for n, organ in enumerate(organs):
        if organ not in ORGANS:
            raise Boom(400, f'"organs[{n}]" must be one of [{", ".join(ORGANS)}]')
    files = [(u.filename or f"image{n}", await u.read()) for n, u in enumerate(uploads)]
    return files, organs


def _species(s: Species) -> dict[str, Any]:
    def taxon(name: str) -> dict[str, str]:
        return {"scientificNameWithoutAuthor": name, "scientificNameAuthorship": "", "scientificName": name}

    return {
        "scientificNameWithoutAuthor": s.name,
        "scientificNameAuthorship": s.authorship,
        "scientificName": s.full_name,
        "genus": taxon(s.genus),
        "family": taxon(s.family),
        "commonNames": list(s.common_names),
    }


def _related_images(s: Species, organ: str) -> list[dict[str, Any]]:
    image_id = hashlib.sha1(s.name.encode()).hexdigest()
    return [{
        "organ": organ,
        "author": "Plant Community provider stand-in",
        "license": "cc-by-sa",
        "date": {"timestamp": 1591000000000, "string": "June 1, 2020"},
        "citation": "Plant Community provider stand-in / Pl@ntNet, cc-by-sa",
        "url": {size: f"{MEDIA}/image/{size}/{image_id}" for size in ("o", "m", "s")},
    }]


def answer(match: Match, project: str, files: list[tuple[str, bytes]], organs: list[str], query: dict[str, Any], remaining: int) -> dict[str, Any]:
    """The identification object of section 2.2 (`preferedReferential` is the real spelling)."""
    hashes = [hashlib.md5(data).hexdigest() for _, data in files]
    predicted = [organ if organ != "auto" else "leaf" for organ in organs]
    results = []
    for species, score in match.ranked[: query["nb_results"]]:
        result: dict[str, Any] = {"score": round(score * 0.95, 5), "species": _species(species), "gbif": {"id": species.gbif_id}}
        if species.powo_id:
            result["powo"] = {"id": species.powo_id}
        if query["related"]:
            result["images"] = _related_images(species, predicted[0])
        results.append(result)
    return {
        "query": {"project": project, "images": hashes, "organs": organs, "includeRelatedImages": query["related"], "noReject": query["no_reject"]},
        "predictedOrgans": [
            {"image": h, "filename": name, "organ": organ, "score": round(0.9 + match.digest[9] / 255 * 0.09, 5)}
            for h, (name, _), organ in zip(hashes, files, predicted, strict=True)
        ],
        "language": query["lang"],
        "preferedReferential": "k-world-flora" if project == "all" else project,
        "bestMatch": results[0]["species"]["scientificName"],
        "results": results,
        "version": VERSION,
        "remainingIdentificationRequests": remaining,
    }


def _quota_headers(quota: int, remaining: int) -> dict[str, str]:
    now = datetime.now(UTC)
    reset = int((datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1) - now).total_seconds())  # 00:00 UTC
    return {"RateLimit-Policy": f'"dailyQuota";q={quota};w=86400', "RateLimit": f'"dailyQuota";r={remaining};t={reset}'}


@router.post("/v2/identify/{project}")
async def identify_project(project: str, request: Request) -> Response:
    """Pl@ntNet v2: identify multipart `images` with one `organs` value each (`api-key` in the query)."""
    call = await before_answer(request, "plantnet")
    if call.dropped is not None:
        return call.dropped
    engine = call.engine
    try:
        if call.fail:
            # Hapi's Boom says this for a 500; for other statuses its message is the phrase.
            raise Boom(engine.fail_status, "An internal server error occurred" if engine.fail_status == 500 else HTTPStatus(engine.fail_status).phrase)
        query = _check_query(request)
        if engine.mode is Mode.QUOTA or engine.remaining <= 0:
            # Daily quota gone until 00:00 UTC; body text unconfirmed [U]. The quota headers are
            # sent here too (an assumption [U]) so that clients can learn the reset time.
            return JSONResponse({"statusCode": 429, "error": "Too Many Requests", "message": "Too Many Requests"},
                                status_code=429, headers=_quota_headers(engine.quota, 0))
        files, organs = await _read_uploads(request)
        pictures = [inspect(data) for _, data in files]
        if any(p.kind not in ("jpeg", "png") for p in pictures):
            raise Boom(415, "Unsupported Media Type")  # JPEG and PNG only [status U]
        if not all(p.decodable for p in pictures):
            raise Boom(400, "Invalid image")
        engine.remaining -= 1
        headers = _quota_headers(engine.quota, engine.remaining)
        match = identify([data for _, data in files], pictures)
        if not match.is_plant and not query["no_reject"]:
            # A rejected non-plant is a normal outcome (and used an identification), not an outage.
            return JSONResponse({"statusCode": 404, "error": "Not Found", "message": "Species not found"}, status_code=404, headers=headers)
    except Boom as error:
        return error.response()
    return JSONResponse(answer(match, project, files, organs, query, engine.remaining), headers=headers)
