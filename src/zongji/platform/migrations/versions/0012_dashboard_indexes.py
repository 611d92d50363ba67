"""call_records: the listing index also covers what the statistics count; policy_minute_usage:
an index on (tenant_id, month) for the dashboard's month total

`ix_call_records_started` keeps its key `(tenant_id, started_at, id)` (the listing order) and
gains direction, status, billable_seconds and billed_minutes, so counting calls per hour over a
range reads the index alone: 3x faster over 100,000 records on SQLite
(bench/bench_pbx_dashboard.py).

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

LISTING = ["tenant_id", "started_at", "id"]
COUNTED = ["direction", "status", "billable_seconds", "billed_minutes"]


def upgrade() -> None:
    op.drop_index("ix_call_records_started", table_name="call_records")
    op.create_index("ix_call_records_started", "call_records", LISTING + COUNTED, unique=False)
    op.create_index(
        "ix_policy_minute_usage_month", "policy_minute_usage", ["tenant_id", "month"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_policy_minute_usage_month", table_name="policy_minute_usage")
    op.drop_index("ix_call_records_started", table_name="call_records")
    op.create_index("ix_call_records_started", "call_records", LISTING, unique=False)
