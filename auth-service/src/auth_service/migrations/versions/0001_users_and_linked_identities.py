"""users and linked identities

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("role", sa.String(length=16), server_default="member", nullable=False),
        sa.Column("tier", sa.String(length=16), server_default="free", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        # op.f(): the names are final (the naming convention already shaped them), so later
        # migrations can refer to them.
        sa.CheckConstraint("role IN ('member', 'editor', 'admin')", name=op.f("ck_users_role")),
        sa.CheckConstraint("tier IN ('free', 'pro', 'premium', 'enterprise')", name=op.f("ck_users_tier")),
    )
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=True)
    op.create_table(
        "linked_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linked_identities")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_linked_identities_user_id_users"), ondelete="CASCADE"),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_linked_identities_provider_subject")),
    )
    op.create_index(op.f("ix_linked_identities_user_id"), "linked_identities", ["user_id"])


def downgrade() -> None:
    op.drop_table("linked_identities")
    op.drop_table("users")
