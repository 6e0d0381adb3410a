"""Production settings refuse insecure values. Each case imports them in a fresh interpreter, as a
real start would, with only the environment given here."""

import os
import re
import secrets
import subprocess
import sys

import pytest

# Long and random, as production needs; each test spoils one value.
REAL_SECRET_KEY = secrets.token_urlsafe(50)
REAL_DATABASE_URL = f"postgresql://cms:{secrets.token_urlsafe(32)}@127.0.0.1:5499/cms"


def run_with_production_settings(argv: list[str], **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CMS_")}
    env.update(
        DJANGO_SETTINGS_MODULE="plant_cms.settings.production",
        CMS_SECRET_KEY=REAL_SECRET_KEY,
        CMS_DATABASE_URL=REAL_DATABASE_URL,
        CMS_REDIS_URL=os.environ.get("CMS_REDIS_URL", "redis://127.0.0.1:6379/3"),
        CMS_DENYLIST_REDIS_URL=os.environ.get("CMS_DENYLIST_REDIS_URL", "redis://127.0.0.1:6379/4"),
        CMS_ALLOWED_HOSTS="cms.example.org",
    )
    env.update(overrides)
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=90)


def import_production(**overrides: str) -> subprocess.CompletedProcess[str]:
    return run_with_production_settings(["-c", "import plant_cms.settings.production"], **overrides)


def test_production_settings_load_with_real_secrets():
    result = import_production()

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CMS_DEBUG": "true"}, "CMS_DEBUG must be false in production"),
        ({"CMS_SECRET_KEY": "dev-insecure-" + "x" * 40}, "CMS_SECRET_KEY must be set to a real secret"),
        ({"CMS_SECRET_KEY": "changeme"}, "CMS_SECRET_KEY must be set to a real secret"),
        ({"CMS_SECRET_KEY": "short-but-not-a-placeholder"}, "CMS_SECRET_KEY is too short"),
        ({"CMS_DATABASE_URL": "postgresql://cms@127.0.0.1:5499/cms"}, "the database password is the one inside CMS_DATABASE_URL"),
        ({"CMS_ALLOWED_HOSTS": ""}, "CMS_ALLOWED_HOSTS is not set"),
    ],
)
def test_production_refuses_to_start_with_insecure_values(overrides, message):
    result = import_production(**overrides)

    assert result.returncode != 0
    assert message in result.stderr


def test_deploy_check_warns_only_about_what_the_edge_takes_over():
    # HSTS (W004) and the HTTPS redirect (W008) are deferred to the edge, which terminates TLS.
    result = run_with_production_settings(["-m", "django", "check", "--deploy"])

    assert result.returncode == 0, result.stderr
    assert set(re.findall(r"\((\w+\.\w+)\)", result.stderr + result.stdout)) == {"security.W004", "security.W008"}


def test_production_settings_need_the_token_deny_list():
    result = import_production(CMS_DENYLIST_REDIS_URL="")

    assert result.returncode != 0
    assert "CMS_DENYLIST_REDIS_URL is not set: export CMS_DENYLIST_REDIS_URL=redis://127.0.0.1:6379/4" in result.stderr
