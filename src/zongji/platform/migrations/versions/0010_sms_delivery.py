"""sms delivery: the SMPP queue (deliveries and their segments); login codes masked in the outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:40:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zongji.platform.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def upgrade() -> None:
    op.create_table(
        "sms_deliveries",
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sealed_body", sa.LargeBinary(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("created_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", zongji.platform.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_deliveries")),
    )
    with op.batch_alter_table("sms_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_deliveries_to"), ["to"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sms_deliveries_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sms_deliveries_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sms_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sms_deliveries_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "sms_segments",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=65), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["sms_deliveries.id"],
            name=op.f("fk_sms_segments_delivery_id_sms_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_segments")),
        sa.UniqueConstraint("delivery_id", "seq", name=op.f("uq_sms_segments_delivery_id_seq")),
    )
    with op.batch_alter_table("sms_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sms_segments_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sms_segments_smsc_message_id"), ["smsc_message_id"], unique=False
        )
    _mask_codes_in_outbox()


def _mask_codes_in_outbox() -> None:
    """Login codes the outbox kept in clear before codes were masked: mask them too."""
    outbox = sa.table("sms_outbox", sa.column("id", sa.Uuid()), sa.column("text", sa.Text()))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(outbox.c.id, outbox.c.text).where(outbox.c.text.like("%验证码%"))
    ).all()
    for row_id, text in rows:
        masked = _CODE.sub("******", text)
        if masked != text:
            conn.execute(outbox.update().where(outbox.c.id == row_id).values(text=masked))


def downgrade() -> None:
    with op.batch_alter_table("sms_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_segments_smsc_message_id"))
        batch_op.drop_index(batch_op.f("ix_sms_segments_delivery_id"))
    op.drop_table("sms_segments")
    with op.batch_alter_table("sms_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_created_at"))
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_state"))
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_sms_deliveries_to"))
    op.drop_table("sms_deliveries")
