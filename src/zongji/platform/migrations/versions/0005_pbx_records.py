"""records: call records, which are also the journal of live calls (ended_at IS NULL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = zongji.platform.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_user_id", sa.Uuid(), nullable=True),
        sa.Column("caller_name", sa.String(length=64), nullable=True),
        sa.Column("callee_number", sa.String(length=64), nullable=False),
        sa.Column("callee_user_id", sa.Uuid(), nullable=True),
        sa.Column("callee_name", sa.String(length=64), nullable=True),
        sa.Column("answered_by_number", sa.String(length=64), nullable=True),
        sa.Column("answered_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("answered_by_name", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=False),
        sa.Column("billed_minutes", sa.Integer(), nullable=False),
        sa.Column("trunk_id", sa.Uuid(), nullable=True),
        sa.Column("outside_number", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("hangup_side", sa.String(length=16), nullable=True),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("tenant_id", "call_id", name=op.f("uq_call_records_tenant_id_call_id")),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_records_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index("ix_call_records_started", ["tenant_id", "started_at", "id"])
        batch_op.create_index(
            "ix_call_records_caller_user", ["tenant_id", "caller_user_id", "started_at"]
        )
        batch_op.create_index(
            "ix_call_records_callee_user", ["tenant_id", "callee_user_id", "started_at"]
        )
        batch_op.create_index(
            "ix_call_records_answered_by", ["tenant_id", "answered_by_user_id", "started_at"]
        )
        batch_op.create_index("ix_call_records_status", ["tenant_id", "status", "started_at"])
        batch_op.create_index("ix_call_records_direction", ["tenant_id", "direction", "started_at"])
        batch_op.create_index("ix_call_records_caller_number", ["tenant_id", "caller_number"])
        batch_op.create_index("ix_call_records_callee_number", ["tenant_id", "callee_number"])
        batch_op.create_index("ix_call_records_live", ["node", "ended_at"])
        batch_op.create_index("ix_call_records_call_id", ["call_id"])


def downgrade() -> None:
    op.drop_table("call_records")
