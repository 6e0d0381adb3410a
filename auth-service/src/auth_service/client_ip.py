"""The client's IP address, as the trusted edge saw it.

When the direct peer is a trusted proxy (`AUTH_TRUSTED_PROXIES`, the edge), the client is the
LAST entry of `X-Forwarded-For`: the one the edge appended. Earlier entries come from the client
and can be forged, so they are ignored. Any other peer is the client itself, and its
`X-Forwarded-For` is ignored. (When uvicorn's own proxy-header handling already rewrote the peer
to the forwarded client, that client is not a trusted proxy and is taken as is: the same answer.)
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address

from fastapi import Request

from auth_service.config import Network

UNKNOWN = "unknown"


def _trusted(host: str, proxies: Iterable[Network]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_ip(request: Request, trusted_proxies: Iterable[Network]) -> str:
    """The client address, normalised (`::ffff:1.2.3.4` style is left as the edge wrote it)."""
    peer = request.client.host if request.client else None
    if peer is None:
        return UNKNOWN
    if not _trusted(peer, trusted_proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    last = forwarded.rsplit(",", 1)[-1].strip()
    try:
        return str(ip_address(last))
    except ValueError:  # no header, or garbage in it: the proxy itself is all we know
        return peer
