from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_have_no_migrations_missing():
    out = StringIO()

    # `--check` exits non-zero when a model change has no migration
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"makemigrations would write migrations (exit {exc.code}):\n{out.getvalue()}")
