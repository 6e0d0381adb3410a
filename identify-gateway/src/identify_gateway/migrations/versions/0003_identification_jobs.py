"""identification_jobs and identification_uploads; job items in identification_requests; retention indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUESTS = "identification_requests"
STATUS = "status IN ('queued', 'processing', 'completed', 'failed')"


def upgrade() -> None:
    op.create_table(
        "identification_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lane", sa.String(length=16), nullable=False),
        sa.Column("batch", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("event_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("events", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATUS, name=op.f("ck_identification_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identification_jobs")),
    )
    op.create_index("ix_identification_jobs_user_id_created_at", "identification_jobs", ["user_id", sa.text("created_at DESC")])
    op.create_index("ix_identification_jobs_created_at", "identification_jobs", ["created_at"])

    op.add_column(REQUESTS, sa.Column("job_id", sa.Uuid(), nullable=True))
    op.add_column(REQUESTS, sa.Column("position", sa.SmallInteger(), server_default=sa.text("0"), nullable=False))
    op.add_column(REQUESTS, sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_foreign_key(
        op.f("fk_identification_requests_job_id_identification_jobs"), REQUESTS, "identification_jobs", ["job_id"], ["id"], ondelete="CASCADE"
    )
    op.create_index("ix_identification_requests_job_id", REQUESTS, ["job_id"])
    op.create_index("ix_identification_requests_created_at", REQUESTS, ["created_at"])

    op.create_table(
        "identification_uploads",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], [f"{REQUESTS}.id"], name=op.f("fk_identification_uploads_request_id_identification_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("request_id", "position", name=op.f("pk_identification_uploads")),
    )
    # JPEG bytes do not compress: store them out of line without trying (TOAST's EXTERNAL strategy).
    op.execute("ALTER TABLE identification_uploads ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_index("ix_identification_uploads_created_at", "identification_uploads", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_identification_uploads_created_at", table_name="identification_uploads")
    op.drop_table("identification_uploads")
    op.drop_index("ix_identification_requests_created_at", table_name=REQUESTS)
    op.drop_index("ix_identification_requests_job_id", table_name=REQUESTS)
    op.drop_constraint(op.f("fk_identification_requests_job_id_identification_jobs"), REQUESTS, type_="foreignkey")
    for column in ("error", "position", "job_id"):
        op.drop_column(REQUESTS, column)
    op.drop_index("ix_identification_jobs_created_at", table_name="identification_jobs")
    op.drop_index("ix_identification_jobs_user_id_created_at", table_name="identification_jobs")
    op.drop_table("identification_jobs")
