"""Alembic migrations, driven from code so that no `alembic.ini` has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for this service's migrations against `database_url`.

    The URL travels in `attributes`, not in the ini options, where a `%` in a password would
    be read as interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["database_url"] = database_url
    return config


def upgrade_head(database_url: str) -> None:
    """Apply every pending migration; a no-op when the schema is current."""
    command.upgrade(alembic_config(database_url), "head")
