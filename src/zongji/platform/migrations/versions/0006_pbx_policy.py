"""policy: holiday calendar, minute usage

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("updated_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_calendar_days")),
        sa.UniqueConstraint("tenant_id", "day", name=op.f("uq_policy_calendar_days_tenant_id_day")),
    )
    with op.batch_alter_table("policy_calendar_days", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_calendar_days_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "policy_minute_usage",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("billed_minutes", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("updated_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_minute_usage")),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "month",
            name=op.f("uq_policy_minute_usage_tenant_id_user_id_month"),
        ),
    )
    with op.batch_alter_table("policy_minute_usage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_minute_usage_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "policy_minute_reservations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("created_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_minute_reservations")),
        sa.UniqueConstraint("call_id", name=op.f("uq_policy_minute_reservations_call_id")),
    )
    with op.batch_alter_table("policy_minute_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_minute_reservations_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_policy_minute_reservations_user", ["tenant_id", "user_id", "month"], unique=False
        )


def downgrade() -> None:
    op.drop_table("policy_minute_reservations")
    op.drop_table("policy_minute_usage")
    op.drop_table("policy_calendar_days")
