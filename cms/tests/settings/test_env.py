import pytest
from django.core.exceptions import ImproperlyConfigured

from plant_cms.settings import env


def test_database_url_gives_every_connection_field():
    config = env.database_from_url("postgresql://cms:p%40ss%2Fword@db.internal:5433/cms?sslmode=require")

    assert config == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "cms",
        "USER": "cms",
        "PASSWORD": "p@ss/word",
        "HOST": "db.internal",
        "PORT": "5433",
        "OPTIONS": {"sslmode": "require"},
    }


def test_database_url_without_password_or_port_leaves_them_blank():
    config = env.database_from_url("postgres://postgres@127.0.0.1/cms")

    assert (config["PASSWORD"], config["PORT"]) == ("", "")


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mysql://u:p@h/cms", "postgresql://"),
        ("postgresql://u:p@h:notaport/cms", "invalid port"),
        ("postgresql://u:p@h:5432/", "names no database"),
    ],
)
def test_malformed_database_url_is_refused_naming_the_variable(url, complaint):
    with pytest.raises(ImproperlyConfigured, match="CMS_DATABASE_URL") as raised:
        env.database_from_url(url)

    assert complaint in str(raised.value)


def test_missing_required_variable_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("CMS_SECRET_KEY", raising=False)

    with pytest.raises(ImproperlyConfigured, match="CMS_SECRET_KEY is not set: export CMS_SECRET_KEY="):
        env.required("SECRET_KEY", "<value>")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("Off", False), ("no", False)])
def test_flag_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("CMS_DEBUG", raw)

    assert env.flag("DEBUG", not expected) is expected


def test_flag_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("CMS_DEBUG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="CMS_DEBUG"):
        env.flag("DEBUG", False)


def test_listing_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("CMS_ALLOWED_HOSTS", " cms.example.org, ,localhost ")

    assert env.listing("ALLOWED_HOSTS", []) == ["cms.example.org", "localhost"]


def test_integer_refuses_what_is_not_a_whole_number(monkeypatch):
    monkeypatch.setenv("CMS_SECURE_HSTS_SECONDS", "a year")

    with pytest.raises(ImproperlyConfigured, match="CMS_SECURE_HSTS_SECONDS"):
        env.integer("SECURE_HSTS_SECONDS", 0)
