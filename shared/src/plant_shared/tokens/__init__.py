"""Access-token verification, the same for every service: EdDSA JWTs from the auth service.

The contract is `docs/architecture.md`, section "Tokens". Verification is three pure steps shared by
the async verifier (FastAPI) and the sync one (Django/DRF); the two differ only in their I/O (the
JWKS fetch and the deny-list read):

1. `read_header(token)`: size and shape, `alg` exactly `EdDSA`, `typ` `at+jwt`, a short well-formed
   `kid`. Nothing in the header is trusted or used before these checks pass.
2. `decode_and_validate(token, key, ...)`: the signature, with a public key loaded once per `kid`;
   the required claims, `iss`, the service's own `aud`, `exp`/`nbf`/`iat` with leeway.
3. `check_denylist(claims, values)`: judges the values of
   `deny:jti:<jti> [deny:sid:<sid>] deny:sub:<sub>` (keys from `denylist_keys(claims)`), read
   from the verifier's `DenylistMirror` while it is fresh, otherwise with one `MGET`.

Each verifier remembers the tokens it verified (`plant_shared.tokens.memory`): a token sent again
skips steps 1 and 2 (but not the expiry, nor a key withdrawn from the JWKS) and goes to step 3
with its deny-list keys already built, so a reused token costs about a microsecond.

Writers record revocations with `deny()` / `deny_sync()` (`SET` + `PUBLISH deny:events` in one
transaction), which is what keeps the mirrors current (`plant_shared.tokens.denylist`).

Errors are `TokenError`s with a stable `code` and a sentence that never repeats token contents.
"""

from plant_shared.tokens.checks import (
    check_denylist,
    check_kid,
    decode_and_validate,
    denylist_keys,
    extract_bearer,
    read_header,
)
from plant_shared.tokens.claims import (
    ACCEPTED_TYPES,
    ALGORITHM,
    AUTH_UNAVAILABLE,
    MAX_TOKEN_LENGTH,
    REQUIRED_CLAIMS,
    TOKEN_EXPIRED,
    TOKEN_INVALID,
    TOKEN_REVOKED,
    Claims,
    TokenError,
)
from plant_shared.tokens.denylist import (
    DENY_EVENTS_CHANNEL,
    DenylistMirror,
    DenylistVerdict,
    SyncDenylistMirror,
    deny,
    deny_sync,
)
from plant_shared.tokens.jwks import JwksCache, SyncJwksCache, parse_jwks
from plant_shared.tokens.verifier import DenylistFailure, SyncTokenVerifier, TokenVerifier

__all__ = [
    "ACCEPTED_TYPES",
    "ALGORITHM",
    "AUTH_UNAVAILABLE",
    "DENY_EVENTS_CHANNEL",
    "MAX_TOKEN_LENGTH",
    "REQUIRED_CLAIMS",
    "TOKEN_EXPIRED",
    "TOKEN_INVALID",
    "TOKEN_REVOKED",
    "Claims",
    "DenylistFailure",
    "DenylistMirror",
    "DenylistVerdict",
    "JwksCache",
    "SyncDenylistMirror",
    "SyncJwksCache",
    "SyncTokenVerifier",
    "TokenError",
    "TokenVerifier",
    "check_denylist",
    "check_kid",
    "decode_and_validate",
    "deny",
    "deny_sync",
    "denylist_keys",
    "extract_bearer",
    "parse_jwks",
    "read_header",
]
