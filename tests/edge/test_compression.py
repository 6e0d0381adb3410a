"""Compression at the edge: negotiated for JSON (zstd, br, gzip: `encodings` set), never for images,
HTML or the auth service's answers."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import httpx
import pytest

# A JSON answer well over the 1 KiB threshold.
BIG_JSON = "/api/v1/plant-identification/openapi.json"


def raw_get(edge: httpx.Client, path: str, accept_encoding: str) -> tuple[httpx.Response, bytes]:
    """GET without httpx's own decoding: the answer and the bytes on the wire."""
    with edge.stream("GET", path, headers={"Accept-Encoding": accept_encoding}) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize("encoding", ["zstd", "br", "gzip"])
def test_json_is_compressed_with_the_encoding_the_client_accepts(edge: httpx.Client, encoding: str) -> None:
    response, wire = raw_get(edge, BIG_JSON, encoding)

    assert response.status_code == 200
    assert response.headers["content-encoding"] == encoding
    assert "accept-encoding" in response.headers["vary"].lower()
    plain = edge.get(BIG_JSON, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(wire) < len(plain.content) / 2


def test_the_compressed_json_is_the_same_document(edge: httpx.Client) -> None:
    _, wire = raw_get(edge, BIG_JSON, "gzip")
    plain = edge.get(BIG_JSON, headers={"Accept-Encoding": "identity"})

    assert json.loads(gzip.decompress(wire)) == plain.json()


def test_the_server_prefers_zstd_then_br_then_gzip(edge: httpx.Client) -> None:
    assert raw_get(edge, BIG_JSON, "gzip, br, zstd")[0].headers["content-encoding"] == "zstd"
    assert raw_get(edge, BIG_JSON, "gzip, br")[0].headers["content-encoding"] == "br"


def test_without_accept_encoding_nothing_is_compressed(edge: httpx.Client) -> None:
    assert "content-encoding" not in raw_get(edge, BIG_JSON, "identity")[0].headers


@pytest.fixture(scope="module")
def static_image() -> str:
    """A PNG of the CMS's collected static files, over 1 KiB."""
    root = Path(os.environ.get("CMS_STATIC_ROOT", ""))
    images = sorted(p for p in root.rglob("*.png") if p.stat().st_size > 2048) if root.is_dir() else []
    if not images:
        pytest.skip("no collected PNG over 2 KiB under CMS_STATIC_ROOT")
    return "/static/" + images[0].relative_to(root).as_posix()


def test_images_are_not_compressed(edge: httpx.Client, static_image: str) -> None:
    response, _ = raw_get(edge, static_image, "zstd, br, gzip")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "content-encoding" not in response.headers


def test_admin_html_and_auth_answers_are_not_compressed(edge: httpx.Client) -> None:
    # HTML carries CSRF tokens beside reflected input (BREACH); auth answers carry tokens.
    for path in ("/cms/login/", "/api/v1/auth/openapi.json"):
        response, _ = raw_get(edge, path, "zstd, br, gzip")
        assert response.status_code == 200, path
        assert "content-encoding" not in response.headers, path
