"""Alembic migrations, driven from code so that no `alembic.ini` has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the gateway's migrations against `database_url`.

    The URL travels in `attributes`, not in the ini options, where a `%` in a password would be
    read as interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already."""
    command.upgrade(alembic_config(database_url), revision)
