"""Editors sign in to /cms/ with their platform account; the CMS keeps no password.

The auth service is a real HTTP server thread (`fake_auth_service`) answering login, me and logout
with tokens signed by the key its JWKS publishes; the CMS verifies them with the shared verifier.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from plant_cms.accounts.backends import sync_editor
from plant_cms.accounts.auth_service import SignedIn

LOGIN = "/cms/login/"
pytestmark = pytest.mark.django_db


def sign_in(email: str, password: str) -> tuple[Client, object]:
    client = Client()
    return client, client.post(LOGIN, {"username": email, "password": password})


def test_an_editor_signs_in_and_gets_a_passwordless_local_user(platform):
    sub = platform.auth.add_account("ed@example.org", "correct horse", roles=["editor"], display_name="Edith Editor")

    client, response = sign_in("Ed@Example.org", "correct horse")

    assert response.status_code == 302 and response["Location"] == "/cms/"
    user = get_user_model().objects.get(username=sub)
    assert user.email == "ed@example.org" and user.first_name == "Edith Editor"
    assert not user.has_usable_password() and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Editors"]
    assert user.has_perm("wagtailadmin.access_admin")
    assert client.get("/cms/").status_code == 200
    # The CMS ended the auth-service session it opened: no refresh-token family left behind.
    assert ("POST", "/api/v1/auth/logout") in platform.auth.requests


def test_an_admin_becomes_a_superuser(platform):
    sub = platform.auth.add_account("root@example.org", "pw", roles=["admin"])

    _, response = sign_in("root@example.org", "pw")

    user = get_user_model().objects.get(username=sub)
    assert response.status_code == 302 and user.is_superuser
    assert set(user.groups.values_list("name", flat=True)) == {"Moderators"}


@pytest.mark.parametrize(("email", "password"), [("member@example.org", "pw"), ("ed@example.org", "wrong"), ("nobody@example.org", "pw")])
def test_members_and_wrong_passwords_get_the_same_login_error(platform, email, password):
    platform.auth.add_account("member@example.org", "pw", roles=["member"])
    platform.auth.add_account("ed@example.org", "pw", roles=["editor"])

    _, response = sign_in(email, password)

    assert response.status_code == 200
    assert b"didn&#x27;t match an editor account" in response.content
    assert not get_user_model().objects.exists()


def test_too_many_attempts_says_so(platform):
    platform.auth.login_status = 429
    platform.auth.retry_after = "300"

    _, response = sign_in("ed@example.org", "pw")

    assert response.status_code == 200 and b"Too many sign-in attempts" in response.content and b"5 minute" in response.content


@pytest.mark.parametrize("trouble", ["auth_down", "auth_500", "token_for_someone_else"])
def test_trouble_with_the_auth_service_is_not_a_sign_in(platform, settings, trouble, dead_redis_url):
    platform.auth.add_account("ed@example.org", "pw", roles=["editor"])
    if trouble == "auth_down":
        from plant_cms.accounts.auth_service import reset_http_client

        settings.AUTH_SERVICE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
        reset_http_client()
    elif trouble == "auth_500":
        platform.auth.login_status = 500
    else:
        platform.auth.token_overrides = {"aud": ["identify-gateway"]}  # not meant for the CMS

    _, response = sign_in("ed@example.org", "pw")

    assert response.status_code == 200 and not get_user_model().objects.exists()
    if trouble != "token_for_someone_else":
        assert b"Sign-in is unavailable right now" in response.content


def test_roles_are_synced_at_each_sign_in(platform):
    sub = platform.auth.add_account("ed@example.org", "pw", roles=["admin"])
    sign_in("ed@example.org", "pw")
    user = get_user_model().objects.get(username=sub)
    user.groups.add(Group.objects.create(name="Blog team"))  # a group an admin added in Wagtail

    platform.auth.accounts["ed@example.org"]["roles"] = ["editor"]
    sign_in("ed@example.org", "pw")

    user.refresh_from_db()
    assert not user.is_superuser
    assert set(user.groups.values_list("name", flat=True)) == {"Editors", "Blog team"}


def test_a_user_deactivated_in_wagtail_stays_out(platform):
    sub = platform.auth.add_account("ed@example.org", "pw", roles=["editor"])
    sign_in("ed@example.org", "pw")
    get_user_model().objects.filter(username=sub).update(is_active=False)

    _, response = sign_in("ed@example.org", "pw")

    assert response.status_code == 200


def test_a_local_password_is_never_used(platform, django_user_model):
    django_user_model.objects.create_user(username="local", email="local@example.org", password="local-password")

    _, by_username = sign_in("local", "local-password")
    _, by_email = sign_in("local@example.org", "local-password")

    assert by_username.status_code == by_email.status_code == 200


def test_the_login_form_asks_for_an_email_and_there_is_no_password_reset(client):
    page = client.get(LOGIN)

    assert b'type="email"' in page.content and b'name="username"' in page.content
    assert client.get("/cms/password_reset/").status_code == 404


def test_editor_groups_may_publish_pages_and_manage_media(db):
    from wagtail.models import Page

    group = Group.objects.get(name="Editors")
    codenames = set(group.page_permissions.values_list("permission__codename", flat=True))
    assert {"add_page", "change_page", "publish_page"} <= codenames
    assert group.permissions.filter(codename="access_admin").exists()
    assert set(group.collection_permissions.values_list("permission__codename", flat=True)) >= {"add_image", "choose_image", "add_document"}
    assert group.permissions.filter(content_type__app_label="species", codename="change_plantspecies").exists()
    assert Page.objects.filter(depth=1).exists()


def test_sync_editor_keeps_no_password(platform, django_user_model):
    claims = platform.claims(roles=["editor"])
    user = django_user_model.objects.create_user(username=claims["sub"], password="was-set")
    from plant_shared.tokens import Claims

    signed = SignedIn(
        claims=Claims(sub=claims["sub"], jti=claims["jti"], sid=None, roles=("editor",), tier="free", scope="user", aud=("cms",), iat=0, exp=0),
        email="e@example.org",
        display_name="",
    )

    sync_editor(signed)

    user.refresh_from_db()
    assert not user.has_usable_password()
