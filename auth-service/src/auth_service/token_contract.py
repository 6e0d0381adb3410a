"""The token contract of docs/architecture.md ("Tokens"), as constants: one place to read it."""

from __future__ import annotations

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
# The auth service's own audience; a user's token is good at every service.
OWN_AUDIENCE = "auth-service"
USER_AUDIENCES = ("auth-service", "identify-gateway", "cms")
USER_SCOPE = "user"
SERVICE_SCOPE = "internal"
# Every verifier accepts this much clock skew; deny-list entries outlive their tokens by as much.
LEEWAY_SECONDS = 30
# The stream other services read to learn that an account is gone.
ACCOUNT_EVENTS_STREAM = "events:accounts"


def deny_jti_key(jti: str) -> str:
    return f"deny:jti:{jti}"


def deny_sid_key(sid: str) -> str:
    return f"deny:sid:{sid}"


def deny_sub_key(sub: str) -> str:
    return f"deny:sub:{sub}"
