"""voicemail: boxes (settings, greeting) and messages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voicemail_boxes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("greeting", sa.String(length=256), nullable=True),
        sa.Column("greeting_seconds", sa.Double(), nullable=True),
        sa.Column("updated_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemail_boxes")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_voicemail_boxes_tenant_id_user_id")
        ),
    )
    with op.batch_alter_table("voicemail_boxes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voicemail_boxes_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "voicemail_messages",
        sa.Column("box_user_id", sa.Uuid(), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=False),
        sa.Column("caller_name", sa.String(length=64), nullable=True),
        sa.Column("caller_user_id", sa.Uuid(), nullable=True),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.Column("file_key", sa.String(length=256), nullable=False),
        sa.Column("heard_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemail_messages")),
    )
    with op.batch_alter_table("voicemail_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_voicemail_messages_box", ["tenant_id", "box_user_id", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voicemail_messages_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("voicemail_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voicemail_messages_tenant_id"))
        batch_op.drop_index("ix_voicemail_messages_box")
    op.drop_table("voicemail_messages")
    with op.batch_alter_table("voicemail_boxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voicemail_boxes_tenant_id"))
    op.drop_table("voicemail_boxes")
