"""Redis down: the CMS's cache reads become misses, so pages are still served from PostgreSQL."""

import pytest

from plant_cms.blog.factories import make_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings, dead_redis_url):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": dead_redis_url}}


@pytest.mark.parametrize("path", ["/api/v2/pages/?type=blog.BlogPostPage&fields=title", "/api/v1/blog/posts/"])
def test_reads_are_answered_from_the_database_while_redis_is_down(client, redis_down, path):
    make_post("Served without Redis")

    response = client.get(path)

    assert response.status_code == 200, response.content
    assert "Served without Redis" in response.content.decode()
