"""trunks: carrier trunks (platform-owned; serve all enterprises or a listed set)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pbx_trunks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("password", sa.String(length=256), nullable=True),
        sa.Column("realm", sa.String(length=253), nullable=True),
        sa.Column("register_expires", sa.Integer(), nullable=False),
        sa.Column("from_domain", sa.String(length=253), nullable=True),
        sa.Column("inbound_addresses", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("options_interval", sa.Integer(), nullable=False),
        sa.Column("all_enterprises", sa.Boolean(), nullable=False),
        sa.Column("enterprise_ids", sa.JSON(), nullable=False),
        sa.Column("number_format", sa.String(length=16), nullable=False),
        sa.Column("created_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pbx_trunks")),
        sa.UniqueConstraint("name", name=op.f("uq_pbx_trunks_name")),
    )


def downgrade() -> None:
    op.drop_table("pbx_trunks")
