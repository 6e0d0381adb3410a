"""The Django adapters: the DRF authentication class and the middleware, over a real JWKS server.

shared/tests runs in its own pytest process (devstack's test runner); Django is configured here
minimally, only if nothing configured it before.
"""

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django
import pytest
import redis
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY=secrets.token_urlsafe(50),  # generated per run
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        DATABASES={},
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
        REST_FRAMEWORK={"DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]},
    )
    django.setup()

urlpatterns: list = []

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from plant_shared import django_auth  # noqa: E402
from plant_shared.django_auth import PlatformClaimsMiddleware, PlatformUser, build_verifier, get_verifier, set_verifier  # noqa: E402
from plant_shared.tokens import Claims, DenylistVerdict, SyncDenylistMirror, SyncTokenVerifier, deny_sync  # noqa: E402


class Me(APIView):
    authentication_classes = [django_auth.PlatformTokenAuthentication]

    def get(self, request):
        user = request.user
        return Response(
            {
                "id": str(user.id),
                "roles": list(user.roles),
                "tier": user.tier,
                "service": user.is_service,
                "auth_is_claims": isinstance(request.auth, Claims),
            }
        )


@pytest.fixture(scope="module")
def jwks_server():
    state = {"body": b"{}", "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def platform(key, kit, jwks_server):
    """PLATFORM_TOKEN_VERIFIER pointing at the server, which serves `key`; the verifier rebuilt from it."""
    jwks_server["body"] = json.dumps({"keys": [key.jwk]}).encode()
    config = {"jwks_url": jwks_server["url"], "issuer": kit.ISSUER, "audience": "cms", "denylist_redis_url": kit.REDIS_URL}
    set_verifier(None)
    with override_settings(PLATFORM_TOKEN_VERIFIER=config):
        yield config
    set_verifier(None)


def call_view(token: str | None = None, header: str | None = None):
    extra = {}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    response = Me.as_view()(APIRequestFactory().get("/me", **extra))
    response.render()
    return response


def test_the_verifier_is_built_from_django_settings(platform) -> None:
    verifier = get_verifier()

    assert isinstance(verifier, SyncTokenVerifier)
    assert verifier.audience == "cms" and verifier.jwks.jwks_url == platform["jwks_url"]
    assert get_verifier() is verifier


def test_a_valid_token_authenticates_a_platform_user(platform, key) -> None:
    claims = key.claims(roles=["member", "editor"], tier="premium")

    response = call_view(key.mint(claims))

    assert response.status_code == 200
    assert response.data == {
        "id": claims["sub"],
        "roles": ["member", "editor"],
        "tier": "premium",
        "service": False,
        "auth_is_claims": True,
    }


def test_a_service_token_authenticates_a_service_user(platform, key) -> None:
    response = call_view(key.service_token(audience="cms"))

    assert response.status_code == 200 and response.data["service"] is True and response.data["id"] == "svc-cms"


def test_no_token_is_401_with_a_bearer_challenge(platform) -> None:
    response = call_view()

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("forge", ["wrong-aud", "expired", "refresh", "alg-none", "garbage-header"])
def test_forged_tokens_are_401_with_an_invalid_token_challenge(platform, key, kit, forge) -> None:
    import time

    header = {
        "wrong-aud": f"Bearer {key.mint(aud='identify-gateway')}",
        "expired": f"Bearer {key.mint(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}",
        "refresh": f"Bearer {secrets.token_urlsafe(48)}",
        "alg-none": f"Bearer {kit.unsigned({'alg': 'none', 'typ': 'at+jwt', 'kid': key.kid}, key.claims())}",
        "garbage-header": "Bearer a b c",
    }[forge]

    response = call_view(header=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.data["detail"].code in {"token_invalid", "token_expired"}


def test_a_revoked_token_is_401_token_revoked(platform, key, kit) -> None:
    claims = key.claims()
    client = redis.Redis.from_url(kit.REDIS_URL)
    client.set(f"deny:jti:{claims['jti']}", "1", ex=60)
    try:
        response = call_view(key.mint(claims))
    finally:
        client.delete(f"deny:jti:{claims['jti']}")
        client.close()

    assert response.status_code == 401 and response.data["detail"].code == "token_revoked"


def test_redis_down_is_503_auth_unavailable(platform, key, kit) -> None:
    set_verifier(build_verifier(platform | {"denylist_redis_url": f"redis://127.0.0.1:{kit.unused_port()}/4"}))

    response = call_view(key.mint())

    assert response.status_code == 503
    assert response.data["detail"].code == "auth_unavailable"


def test_the_middleware_sets_the_claims_or_none(platform, key) -> None:
    seen = {}

    def view(request):
        seen["claims"], seen["error"] = request.platform_claims, request.platform_token_error
        return HttpResponse("ok")

    middleware = PlatformClaimsMiddleware(view)
    factory = RequestFactory()
    claims = key.claims()

    middleware(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {key.mint(claims)}"))
    assert seen["claims"].sub == claims["sub"] and seen["error"] is None

    middleware(factory.get("/"))
    assert seen == {"claims": None, "error": None}

    middleware(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {key.mint(iss='x')}"))
    assert seen["claims"] is None and seen["error"].code == "token_invalid"


def test_middleware_and_drf_verify_a_request_once(platform, key) -> None:
    verifier = get_verifier()
    calls = []
    real_mget = verifier._redis.mget
    verifier._redis.mget = lambda keys: calls.append(keys) or real_mget(keys)
    request = APIRequestFactory().get("/me", HTTP_AUTHORIZATION=f"Bearer {key.mint()}")

    response = PlatformClaimsMiddleware(lambda r: Me.as_view()(r))(request)

    assert response.status_code == 200 and len(calls) == 1


def test_platform_user_looks_like_an_authenticated_user(key) -> None:
    sub = str(uuid.uuid4())
    claims = Claims(sub=sub, jti="j", sid="s", roles=("member",), tier="free", scope="user", aud=("cms",), iat=1, exp=2)

    user = PlatformUser.from_claims(claims)

    assert user.is_authenticated and not user.is_anonymous and not user.is_staff
    assert user.id == uuid.UUID(sub) and user.pk == user.id and str(user) == sub and user.has_role("member")


def test_the_rest_of_plant_shared_never_imports_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, plant_shared.tokens, plant_shared.fastapi_support, plant_shared.django_auth;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_built_verifier_mirrors_the_deny_list_from_its_first_use(platform, key, kit) -> None:
    verifier = get_verifier()
    mirror = verifier.denylist_mirror
    assert isinstance(mirror, SyncDenylistMirror) and mirror.redis is verifier._redis
    assert not mirror.running  # nothing started at build time (a preforking server may fork after)

    assert call_view(key.mint()).status_code == 200  # first use: starts it, reads Redis meanwhile

    assert mirror.running and mirror.wait_fresh(5.0)
    claims = key.claims()
    client = redis.Redis.from_url(kit.REDIS_URL)
    try:
        deny_sync(client, f"deny:jti:{claims['jti']}", "1", 60)
        deadline = time.monotonic() + 1.0  # the event reaches the mirror thread within milliseconds
        while mirror.check(_claims(claims)) is not DenylistVerdict.REVOKED and time.monotonic() < deadline:
            time.sleep(0.001)
        response = call_view(key.mint(claims))
    finally:
        client.delete(f"deny:jti:{claims['jti']}")
        client.close()
    assert response.status_code == 401 and response.data["detail"].code == "token_revoked"

    set_verifier(None)  # replacing the verifier stops its mirror thread
    assert not mirror.running
    assert not [t for t in threading.enumerate() if t.name == "denylist-mirror"]


def _claims(payload: dict) -> Claims:
    return Claims(
        sub=payload["sub"], jti=payload["jti"], sid=payload["sid"], roles=(), tier=None, scope="", aud=("cms",),
        iat=payload["iat"], exp=payload["exp"],
    )


def test_the_mirror_can_be_turned_off(platform) -> None:
    assert build_verifier(platform | {"denylist_mirror": False}).denylist_mirror is None
    assert build_verifier(platform | {"denylist_redis_url": None}).denylist_mirror is None
