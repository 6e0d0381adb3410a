import pytest

pytestmark = pytest.mark.django_db


def test_admin_login_page_renders(client):
    response = client.get("/cms/login/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'name="username"' in response.content


def test_admin_redirects_anonymous_editors_to_login(client):
    response = client.get("/cms/")

    assert response.status_code == 302
    assert response["Location"].startswith("/cms/login/")
