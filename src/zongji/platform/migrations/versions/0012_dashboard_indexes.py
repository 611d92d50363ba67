"""policy_minute_usage: an index on (tenant_id, month), for the dashboard's month total

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("policy_minute_usage", schema=None) as batch_op:
        batch_op.create_index("ix_policy_minute_usage_month", ["tenant_id", "month"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_minute_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_minute_usage_month")
