"""devices: SIP device credentials

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip_credentials",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("realm", sa.String(length=253), nullable=False),
        sa.Column("ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_registered_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip_credentials")),
        sa.UniqueConstraint(
            "tenant_id", "username", name=op.f("uq_sip_credentials_tenant_id_username")
        ),
    )
    with op.batch_alter_table("sip_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sip_credentials_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_sip_credentials_tenant_user", ["tenant_id", "user_id"], unique=False
        )
        batch_op.create_index("ix_sip_credentials_username", ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sip_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_sip_credentials_username")
        batch_op.drop_index("ix_sip_credentials_tenant_user")
        batch_op.drop_index(batch_op.f("ix_sip_credentials_tenant_id"))
    op.drop_table("sip_credentials")
