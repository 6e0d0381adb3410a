"""Alembic environment, driven by `identify_gateway.cli migrate` (programmatic config, no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from identify_gateway.models import Base

# Any constant: concurrent `migrate` runs (several replicas starting at once) take turns on it.
MIGRATION_LOCK_KEY = 0x67617465776179  # "gateway"

config = context.config
database_url: str = config.attributes["database_url"]


def run_offline() -> None:
    context.configure(url=database_url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            # Transaction-scoped: released by the commit below, or by PostgreSQL if we die.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
