"""PostgreSQL unreachable (restarting): API views answer 503 with the envelope, not 500."""

import socket

import psycopg
import pytest
from django.db.utils import OperationalError
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from plant_cms.core.errors import envelope_exception_handler


@pytest.fixture
def refused() -> psycopg.OperationalError:
    """The real driver error of a connection to a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        psycopg.connect(f"host=127.0.0.1 port={port} user=nobody dbname=nothing connect_timeout=2")
    except psycopg.OperationalError as exc:
        return exc
    pytest.fail("a connection to a closed port succeeded")


class ReadsTheDatabase(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    error: Exception

    def get(self, request):
        raise self.error


def test_a_database_outage_in_a_drf_view_is_a_503_with_the_envelope(refused):
    # What Django raises: its own OperationalError, from the driver's.
    try:
        raise OperationalError(str(refused)) from refused
    except OperationalError as wrapped:
        ReadsTheDatabase.error = wrapped
    response = ReadsTheDatabase.as_view()(APIRequestFactory().get("/api/v1/garden/plants/"))

    assert response.status_code == 503
    assert response.data == {"detail": "A dependency is unavailable; try again shortly.", "code": "service_unavailable"}
    assert response["Retry-After"] == "5"


def test_other_unexpected_errors_are_still_left_to_django():
    assert envelope_exception_handler(RuntimeError("boom"), {}) is None
