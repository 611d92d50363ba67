"""pbx: registrations kept across restarts (pbx_bindings); live calls' dialogs (call_records.legs)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pbx_bindings",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("contact_key", sa.Text(), nullable=False),
        sa.Column("sent", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("nat", sa.Boolean(), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("cseq", sa.BigInteger(), nullable=False),
        sa.Column("user_agent", sa.String(length=128), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("source_host", sa.String(length=64), nullable=False),
        sa.Column("source_port", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=True),
        sa.Column("reg_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pbx_bindings")),
    )
    with op.batch_alter_table("pbx_bindings", schema=None) as batch_op:
        batch_op.create_index("ix_pbx_bindings_node", ["node", "expires_at"], unique=False)
        batch_op.create_index("ix_pbx_bindings_tenant_user", ["tenant_id", "user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pbx_bindings_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("legs")
    with op.batch_alter_table("pbx_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pbx_bindings_tenant_id"))
        batch_op.drop_index("ix_pbx_bindings_tenant_user")
        batch_op.drop_index("ix_pbx_bindings_node")
    op.drop_table("pbx_bindings")
