"""identification_requests: public result fields, engines used, confidence; confidence indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "identification_requests"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("plant_name", sa.String(length=255), nullable=True))
    op.add_column(TABLE, sa.Column("scientific_name", sa.String(length=255), nullable=True))
    op.add_column(TABLE, sa.Column("confidence", sa.Float(), nullable=True))
    op.add_column(TABLE, sa.Column("engines", postgresql.ARRAY(sa.String(length=16)), server_default=sa.text("'{}'"), nullable=False))
    op.add_column(TABLE, sa.Column("degraded", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(TABLE, sa.Column("cached", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(TABLE, sa.Column("image_count", sa.SmallInteger(), server_default=sa.text("1"), nullable=False))
    op.add_column(TABLE, sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column(TABLE, sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_identification_requests_confidence", TABLE, ["confidence"])
    op.create_index("ix_identification_requests_user_id_confidence", TABLE, ["user_id", sa.text("confidence DESC")])


def downgrade() -> None:
    op.drop_index("ix_identification_requests_user_id_confidence", table_name=TABLE)
    op.drop_index("ix_identification_requests_confidence", table_name=TABLE)
    for column in ("completed_at", "parameters", "image_count", "cached", "degraded", "engines", "confidence", "scientific_name", "plant_name"):
        op.drop_column(TABLE, column)
