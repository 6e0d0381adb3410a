"""Which address counts as the client's: the last X-Forwarded-For hop, only behind a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from starlette.requests import Request

from auth_service.client_ip import client_ip

EDGE = (ip_network("127.0.0.1/32"), ip_network("172.18.0.0/16"))


def request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 1234) if peer else None})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", ("203.0.113.9",), "203.0.113.9"),  # the edge on loopback
        ("172.18.0.5", ("203.0.113.9",), "203.0.113.9"),  # the edge on a compose network
        ("127.0.0.1", ("6.6.6.6, 203.0.113.9",), "203.0.113.9"),  # a forged first hop is ignored
        ("127.0.0.1", ("6.6.6.6", "203.0.113.9"), "203.0.113.9"),  # two headers: still the last hop
        ("127.0.0.1", ("2001:db8::1",), "2001:db8::1"),
        ("198.51.100.7", ("6.6.6.6",), "198.51.100.7"),  # not from the edge: the header is ignored
        ("127.0.0.1", (), "127.0.0.1"),  # from the edge without a header: the edge is all we know
        ("127.0.0.1", ("not-an-ip",), "127.0.0.1"),
        (None, (), "unknown"),
    ],
)
def test_client_ip(peer, forwarded, expected):
    assert client_ip(request(peer, *forwarded), EDGE) == expected
