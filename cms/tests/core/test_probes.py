import pytest

pytestmark = pytest.mark.django_db


def test_livez_says_alive(client):
    response = client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_ready_when_postgres_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": {"ok": True}, "redis": {"ok": True}}}


def test_readyz_is_503_naming_redis_when_redis_is_down(client, settings, dead_redis_url):
    # given a cache pointing at a Redis that does not answer
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead_redis_url}}

    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"]  # the exception's name, e.g. ConnectionError


def test_metrics_exposes_prometheus_text(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE http_requests_total counter" in response.content
