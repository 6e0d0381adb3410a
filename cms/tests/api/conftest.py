import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Images the tests make land in a temporary directory, never in the repository."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def api_uncached(settings):
    """Turn the /api/v2/ response cache off (query-count tests measure the database)."""
    settings.API_CACHE_SECONDS = 0
