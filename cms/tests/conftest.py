"""The CMS suite: test settings, real PostgreSQL and Redis (from `CMS_*`), and an ASGI client."""

import os
import socket

# Here rather than in an ini file: the repository's pytest configuration is shared by every service.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "plant_cms.settings.test")

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
