"""Migrations: from empty, idempotent, reversible, and in step with the models."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from identify_gateway.migrations import alembic_config, upgrade
from identify_gateway.models import Base


def test_migrate_twice_from_empty_creates_the_table_once(empty_schema_url: str) -> None:
    upgrade(empty_schema_url)
    upgrade(empty_schema_url)  # a no-op, not an error

    engine = create_engine(empty_schema_url)
    try:
        schema = inspect(engine)
        assert "identification_requests" in schema.get_table_names()
        index = {i["name"]: i for i in schema.get_indexes("identification_requests")}["ix_identification_requests_user_id_created_at"]
        assert index["column_names"] == ["user_id", "created_at"]
        assert index["column_sorting"] == {"created_at": ("desc",)}
        indexes = {i["name"]: i["column_names"] for i in schema.get_indexes("identification_requests")}
        assert indexes["ix_identification_requests_confidence"] == ["confidence"]
        assert indexes["ix_identification_requests_user_id_confidence"] == ["user_id", "confidence"]
        columns = {c["name"] for c in schema.get_columns("identification_requests")}
        assert {"plant_name", "scientific_name", "confidence", "engines", "degraded", "cached", "image_count", "parameters", "completed_at"} <= columns
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_schema_url: str) -> None:
    upgrade(empty_schema_url)

    engine = create_engine(empty_schema_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_downgrade_to_base_and_up_again(empty_schema_url: str) -> None:
    upgrade(empty_schema_url)
    command.downgrade(alembic_config(empty_schema_url), "base")
    upgrade(empty_schema_url)

    engine = create_engine(empty_schema_url)
    try:
        assert "identification_requests" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_cli_migrate_is_idempotent(empty_schema_url: str) -> None:
    environment = {**os.environ, "GATEWAY_DATABASE_URL": empty_schema_url}
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "identify_gateway.cli", "migrate"], env=environment, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    assert '"message": "migrations applied"' in result.stdout  # JSON log lines
