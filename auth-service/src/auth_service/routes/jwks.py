"""The public signing keys, at the root path every verifier knows: `/.well-known/jwks.json`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from auth_service.deps import KeyRingDep

router = APIRouter(tags=["keys"])

# Short: after a rotation verifiers also refetch on an unknown kid, so this only bounds staleness.
CACHE_CONTROL = "public, max-age=300"


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str


class Jwks(BaseModel):
    keys: list[Jwk]


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(keyring: KeyRingDep) -> Response:
    """Every live public signing key (Ed25519, RFC 7517 JWK Set); cache for up to 5 minutes."""
    return Response(keyring.jwks, media_type="application/json", headers={"Cache-Control": CACHE_CONTROL})
