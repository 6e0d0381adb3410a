"""Pl@ntNet v2: `POST /v2/identify/{project}`, multipart `images` + `organs`, `api-key` in the query
(external-apis.md 2).

404 "Species not found" is a valid empty answer (never a failure); 429 → `OutOfQuota` until
00:00 UTC (or the `RateLimit` header's `t`); 400/413/415 → `ImageRejected`; 401/403, 5xx,
timeouts → `EngineFailure`. Errors come in the Boom envelope `{"statusCode", "error", "message"}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from identify_gateway.engines.base import (
    Candidate,
    EngineFailure,
    EngineResult,
    ImageRejected,
    OutOfQuota,
    QuotaReading,
    SimilarImage,
    text_of,
)
from identify_gateway.engines.http import Reply, as_float, as_int, as_str, exchange, str_list

NAME = "plantnet"
API_VERSION = "v2"
NB_RESULTS = 5
ORGANS = ("leaf", "flower", "fruit", "bark", "auto")
_IMAGE_ERRORS = frozenset({400, 413, 415, 422})
_RATELIMIT_FIELD = re.compile(r";\s*([a-z]+)=(\d+(?:\.\d+)?)")
# Pl@ntNet sends licence codes ("cc-by-sa"); these are the Creative Commons deeds they name.
_LICENCE_URLS = {
    "cc-by": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-by-nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-by-nc-sa": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc0": "https://creativecommons.org/publicdomain/zero/1.0/",
}

log = logging.getLogger(__name__)


def seconds_to_utc_midnight(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, int((midnight - now).total_seconds()))


def quota_from(reply: Reply, body: Any) -> QuotaReading | None:
    """`remainingIdentificationRequests` from the body, else the draft `RateLimit` header (`r`, `t`)."""
    header = dict(_RATELIMIT_FIELD.findall(reply.headers.get("ratelimit", "")))
    policy = dict(_RATELIMIT_FIELD.findall(reply.headers.get("ratelimit-policy", "")))
    remaining = as_float(body.get("remainingIdentificationRequests")) if isinstance(body, dict) else None
    if remaining is None and "r" in header:
        remaining = float(header["r"])
    if remaining is None:
        return None
    reset = int(float(header["t"])) if "t" in header else seconds_to_utc_midnight()
    return QuotaReading(remaining=remaining, reset_in_s=reset, limit=float(policy["q"]) if "q" in policy else None)


def _images(raw: Any) -> tuple[SimilarImage, ...]:
    out = []
    for item in raw[:4] if isinstance(raw, list) else ():
        urls = item.get("url") if isinstance(item, dict) else None
        if not isinstance(urls, dict) or not (url := as_str(urls.get("m"), 500) or as_str(urls.get("o"), 500)):
            continue
        licence = as_str(item.get("license"), 40)
        out.append(
            SimilarImage(
                url=url,
                url_small=as_str(urls.get("s"), 500),
                license_name=licence.upper() if licence else None,
                license_url=_LICENCE_URLS.get(licence or ""),
                citation=as_str(item.get("citation"), 200) or as_str(item.get("author"), 200),
            )
        )
    return tuple(out)


def _candidate(raw: dict[str, Any]) -> Candidate | None:
    species = raw.get("species") if isinstance(raw.get("species"), dict) else {}
    name = as_str(species.get("scientificNameWithoutAuthor"), 200)
    score = as_float(raw.get("score"))
    if name is None or score is None:
        return None

    def taxon(key: str) -> str | None:
        value = species.get(key)
        return as_str(value.get("scientificNameWithoutAuthor"), 100) if isinstance(value, dict) else None

    gbif = raw.get("gbif") if isinstance(raw.get("gbif"), dict) else {}
    return Candidate(
        scientific_name=name,
        score=max(0.0, min(1.0, score)),
        common_names=str_list(species.get("commonNames")),
        authorship=as_str(species.get("scientificNameAuthorship"), 120),
        genus=taxon("genus"),
        family=taxon("family"),
        gbif_id=as_int(gbif.get("id")),  # a string in the docs, a number in some models: both parse
        similar_images=_images(raw.get("images")),
    )


def parse_identification(body: Any, *, reply: Reply) -> EngineResult:
    """Map a 200 answer (section 2.2) to an `EngineResult`.

    Raises:
        EngineFailure: not an identification object.
    """
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise EngineFailure(NAME, "answer has no results list")
    candidates = [c for c in (_candidate(r) for r in body["results"][:NB_RESULTS * 2] if isinstance(r, dict)) if c]
    return EngineResult(
        engine=NAME,
        candidates=tuple(sorted(candidates, key=lambda c: -c.score)),
        model_version=as_str(body.get("version"), 40),
        quota=quota_from(reply, body),
        standin=reply.standin,
    )


class PlantNetClient:
    """Pl@ntNet v2 over the shared keep-alive client.

    Args:
        http: the engine's long-lived `httpx.AsyncClient` (base URL `…/v2`).
        api_key: the Pl@ntNet key (sent in the query string, as the API requires; httpx logging is
            kept at WARNING so it never reaches the logs).
        project: `all` or a flora id.
        timeout_s: budget of one identification, in total.
        image_long_side: the long side images are resized to before being sent.
    """

    name = NAME
    api_version = API_VERSION

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, project: str, timeout_s: float, image_long_side: int) -> None:
        self._http = http
        self._api_key = api_key
        self.project = project
        self.timeout_s = timeout_s
        self.image_long_side = image_long_side

    async def identify(
        self, images: Sequence[bytes], *, latitude: float | None, longitude: float | None, language: str, health: bool, organs: Sequence[str] = ()
    ) -> EngineResult:
        """Identify the plant on `images` (clean JPEGs) with one organ each (default `auto`).

        Raises:
            ImageRejected, OutOfQuota, EngineFailure (see the module docstring).
        """
        organ_list = list(organs) if organs else ["auto"] * len(images)
        params = {"api-key": self._api_key, "lang": language, "nb-results": str(NB_RESULTS), "include-related-images": "true", "no-reject": "false"}
        files = [("images", (f"image{n}.jpg", data, "image/jpeg")) for n, data in enumerate(images)]
        reply = await exchange(
            self._http, "POST", f"identify/{self.project}", engine=NAME, timeout_s=self.timeout_s,
            params=params, data={"organs": organ_list}, files=files,
        )  # fmt: skip
        if reply.status == 200:
            return parse_identification(reply.json(NAME), reply=reply)
        body = _boom(reply)
        message = as_str(body.get("message"), 200) if isinstance(body, dict) else text_of(reply.body)
        if reply.status == 404 and message and "species not found" in message.lower():
            return EngineResult(engine=NAME, candidates=(), quota=quota_from(reply, body), standin=reply.standin, no_match=True)
        if reply.status == 429:
            reading = quota_from(reply, body)
            reset = reading.reset_in_s if reading and reading.reset_in_s else seconds_to_utc_midnight()
            raise OutOfQuota(NAME, f"daily quota exhausted: {message}", reset_in_s=reset)
        if reply.status in _IMAGE_ERRORS:
            raise ImageRejected(NAME, f"HTTP {reply.status}: {message}")
        if reply.status in (401, 403):
            log.error("Pl@ntNet refused the API key (HTTP %s): %s; check GATEWAY_PLANTNET_API_KEY", reply.status, message)
        raise EngineFailure(NAME, f"HTTP {reply.status}: {message}")


def _boom(reply: Reply) -> Any:
    try:
        return reply.json(NAME)
    except EngineFailure:
        return None
