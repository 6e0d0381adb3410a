"""Alembic environment: the sync psycopg driver, the URL from the caller or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from auth_service.config import get_settings
from auth_service.models import Base

# Any constant will do; it only has to be the same for every process migrating this database.
_MIGRATION_LOCK_ID = 0x6175746800  # "auth\0"

config = context.config
target_metadata = Base.metadata
database_url = config.attributes.get("database_url") or get_settings().database_url


def run_offline() -> None:
    context.configure(url=database_url, target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # postgresql+psycopg builds a sync engine here and an async one in the app: one URL for both.
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            # Two processes migrating at once (parallel set-up steps) wait for each other
            # instead of both creating the same tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
