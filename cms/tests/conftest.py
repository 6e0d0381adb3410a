"""The CMS suite: test settings, real PostgreSQL and Redis (from `CMS_*`), and an ASGI client."""

import atexit
import os
import shutil
import socket
import tempfile

# Here rather than in an ini file: the repository's pytest configuration is shared by every service.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plant_cms.settings.test")
# The deny-list (and account events) Redis: database 4 of the test Redis unless the stack says otherwise.
if "CMS_DENYLIST_REDIS_URL" not in os.environ and "CMS_REDIS_URL" in os.environ:
    os.environ["CMS_DENYLIST_REDIS_URL"] = os.environ["CMS_REDIS_URL"].rsplit("/", 1)[0] + "/4"
# Members' photos written by tests land in a throwaway folder, removed at exit.
if "CMS_PRIVATE_MEDIA_ROOT" not in os.environ:
    os.environ["CMS_PRIVATE_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="cms-test-private-media-")
    atexit.register(shutil.rmtree, os.environ["CMS_PRIVATE_MEDIA_ROOT"], True)

import django  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402

# pytest-django looked for the settings before this file ran; set Django up now that they are known.
django.setup()


@pytest.fixture
async def asgi_client():
    """A client speaking to `plant_cms.asgi.application`: the stack uvicorn serves, middlewares included."""
    from plant_cms.asgi import application

    transport = httpx.ASGITransport(app=application)
    # An explicit port, as uvicorn always reports one (Wagtail's site lookup needs it).
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8103") as client:
        yield client


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL where nothing listens: a port the OS just handed out and took back."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/3"


# --- Platform tokens: a real JWKS (and a stand-in auth service) over HTTP, the real deny-list ----------

import base64  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402

from django.test import Client  # noqa: E402

import jwt  # noqa: E402
import redis  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

TOKEN_ISSUER = "plant-community-auth"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """An Ed25519 key like the auth service's (`kid` = RFC 7638 thumbprint) that mints tokens per
    the contract in docs/architecture.md ("Tokens")."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        x = _b64url(self.private.public_key().public_bytes_raw())
        thumbprint = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True).encode()
        self.kid = _b64url(hashlib.sha256(thumbprint).digest())
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": TOKEN_ISSUER, "aud": ["auth-service", "identify-gateway", "cms"], "sub": str(uuid.uuid4()),
            "exp": now + 3600, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), "sid": str(uuid.uuid4()),
            "roles": ["member"], "tier": "free", "scope": "user",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, claims: dict[str, Any] | None = None, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        payload = claims if claims is not None else self.claims(**overrides)
        return jwt.encode(payload, self.private, algorithm="EdDSA", headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})})

    def service_token(self, audience: str = "cms", client_id: str = "svc-gateway", **overrides: Any) -> str:
        now = int(time.time())
        return self.mint({
            "iss": TOKEN_ISSUER, "aud": audience, "sub": client_id, "client_id": client_id, "scope": "internal",
            "exp": now + 300, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), **overrides,
        })


class FakeAuthService:
    """The auth service's HTTP boundary the CMS uses: JWKS, login, me, logout (state per test)."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.accounts: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.login_status: int | None = None  # force an answer (429, 500, ...)
        self.retry_after = "120"
        self.token_overrides: dict[str, Any] = {}

    def reset(self) -> None:
        self.accounts.clear()
        self.requests.clear()
        self.login_status = None
        self.token_overrides = {}

    def add_account(self, email: str, password: str, *, roles: list[str], display_name: str = "Test Person") -> str:
        sub = str(uuid.uuid4())
        self.accounts[email.lower()] = {"password": password, "sub": sub, "roles": roles, "display_name": display_name, "email": email.lower()}
        return sub

    def _by_token(self, header: str | None) -> dict[str, Any] | None:
        if not header or not header.startswith("Bearer "):
            return None
        try:
            sub = jwt.decode(header[7:], options={"verify_signature": False})["sub"]
        except jwt.PyJWTError:
            return None
        return next((a for a in self.accounts.values() if a["sub"] == sub), None)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.requests.append((method, path))
        if method == "GET" and path == "/.well-known/jwks.json":
            return 200, {}, json.dumps({"keys": [self.key.jwk]}).encode()
        if method == "POST" and path == "/api/v1/auth/login":
            if self.login_status == 429:
                return 429, {"Retry-After": self.retry_after}, json.dumps({"detail": "Too many attempts.", "code": "throttled"}).encode()
            if self.login_status is not None:
                return self.login_status, {}, b'{"detail": "boom", "code": "internal_error"}'
            data = json.loads(body or b"{}")
            account = self.accounts.get(str(data.get("email", "")).lower())
            if account is None or account["password"] != data.get("password"):
                return 401, {}, json.dumps({"detail": "Email or password is incorrect.", "code": "invalid_credentials"}).encode()
            token = self.key.mint(sub=account["sub"], roles=account["roles"], **self.token_overrides)
            return 200, {}, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "refresh_token": "opaque", "refresh_expires_in": 604800}).encode()
        if path in ("/api/v1/auth/me", "/api/v1/auth/logout"):
            account = self._by_token(headers.get("Authorization"))
            if account is None:
                return 401, {}, b'{"detail": "Sign in.", "code": "not_authenticated"}'
            if path.endswith("/logout"):
                return 204, {}, b""
            me = {"id": account["sub"], "email": account["email"], "display_name": account["display_name"], "role": account["roles"][0], "tier": "free", "created_at": "2026-01-01T00:00:00Z"}
            return 200, {}, json.dumps(me).encode()
        return 404, {}, b'{"detail": "Not found.", "code": "not_found"}'


@pytest.fixture(scope="session")
def fake_auth_service():
    """A real HTTP server on a free port impersonating the auth service (an HTTP boundary)."""
    service = FakeAuthService(SigningKey())

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, body = service.handle(self.command, self.path, self.headers, self.rfile.read(length) if length else b"")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform(fake_auth_service, settings):
    """The CMS verifying tokens from `fake_auth_service` (JWKS over HTTP) with the real deny-list.

    `platform.mint(**claims)` signs a member token; `platform.deny(key, value)` writes a deny-list
    key (removed after the test); `platform.auth` is the stand-in auth service.
    """
    from plant_cms.accounts.auth_service import reset_http_client
    from plant_shared.django_auth import set_verifier

    fake_auth_service.reset()
    denylist_url = settings.DENYLIST_REDIS_URL
    settings.PLATFORM_TOKEN_VERIFIER = {
        "jwks_url": f"{fake_auth_service.url}/.well-known/jwks.json",
        "issuer": TOKEN_ISSUER,
        "audience": "cms",
        "denylist_redis_url": denylist_url,
    }
    settings.AUTH_SERVICE_URL = fake_auth_service.url
    set_verifier(None)
    reset_http_client()
    client = redis.Redis.from_url(denylist_url)
    written: list[str] = []

    def deny(name: str, value: str | int | float = "1") -> None:
        written.append(name)
        client.set(name, value, ex=120)

    yield SimpleNamespace(key=fake_auth_service.key, mint=fake_auth_service.key.mint, claims=fake_auth_service.key.claims,
                          service_token=fake_auth_service.key.service_token, deny=deny, auth=fake_auth_service, redis=client)
    if written:
        client.delete(*written)
    client.close()
    set_verifier(None)
    reset_http_client()


# --- Members: clients carrying a real access token ------------------------------------------------


class Member:
    """A member calling the API with a real access token (signed, served by JWKS, deny-list checked)."""

    def __init__(self, platform: Any, **claims: Any) -> None:
        self.sub = uuid.UUID(claims.pop("sub", None) or str(uuid.uuid4()))
        self.token = platform.mint(sub=str(self.sub), **claims)
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(path, params or {}, **self.auth, **extra)

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        body = "" if data is None else json.dumps(data)
        return self.client.post(path, body, content_type="application/json", **self.auth, **extra)

    def patch(self, path: str, data: Any, **extra: Any) -> Any:
        return self.client.patch(path, json.dumps(data), content_type="application/json", **self.auth, **extra)

    def put(self, path: str, data: Any, **extra: Any) -> Any:
        return self.client.put(path, json.dumps(data), content_type="application/json", **self.auth, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(path, **self.auth, **extra)

    def upload(self, path: str, files: dict[str, Any], **fields: Any) -> Any:
        return self.client.post(path, {**files, **fields}, **self.auth)

    def add_plant(self, **data: Any) -> dict[str, Any]:
        response = self.post("/api/v1/garden/plants/", {"nickname": "Fern", **data})
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def member(platform, db) -> Member:
    return Member(platform)


@pytest.fixture
def other_member(platform, db) -> Member:
    return Member(platform)


@pytest.fixture
def make_member(platform, db):
    return lambda **claims: Member(platform, **claims)
