"""The call record table: one row per call, which is also the durable journal of live calls.

A call's row is written when the call starts (`ended_at IS NULL`, `status IS NULL`) and stamped
with the node that carries it. That row *is* the journal: there is no second `live_calls` table
to keep in step with it, so a call can never be live in one place and missing from the other, and
closing a call is a single UPDATE of one row. A node that starts again finds the calls it left
live by `(node, ended_at IS NULL)`, ends their dialogs (`legs`) with a BYE and closes them as
interrupted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, TenantOwned


class CallRecord(TenantOwned, Base):
    __tablename__ = "call_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "call_id"),
        # the listing order, then what the statistics count: they read the index alone
        Index(
            "ix_call_records_started",
            "tenant_id",
            "started_at",
            "id",
            "direction",
            "status",
            "billable_seconds",
            "billed_minutes",
        ),
        Index("ix_call_records_caller_user", "tenant_id", "caller_user_id", "started_at"),
        Index("ix_call_records_callee_user", "tenant_id", "callee_user_id", "started_at"),
        Index("ix_call_records_answered_by", "tenant_id", "answered_by_user_id", "started_at"),
        Index("ix_call_records_status", "tenant_id", "status", "started_at"),
        Index("ix_call_records_direction", "tenant_id", "direction", "started_at"),
        Index("ix_call_records_caller_number", "tenant_id", "caller_number"),
        Index("ix_call_records_callee_number", "tenant_id", "callee_number"),
        Index("ix_call_records_live", "node", "ended_at"),
        Index("ix_call_records_call_id", "call_id"),
    )

    call_id: Mapped[str] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(16))  # CallDirection
    caller_number: Mapped[str] = mapped_column(String(64))
    caller_user_id: Mapped[uuid.UUID | None]
    caller_name: Mapped[str | None] = mapped_column(String(64))
    callee_number: Mapped[str] = mapped_column(String(64))
    callee_user_id: Mapped[uuid.UUID | None]
    callee_name: Mapped[str | None] = mapped_column(String(64))
    answered_by_number: Mapped[str | None] = mapped_column(String(64))
    answered_by_user_id: Mapped[uuid.UUID | None]
    answered_by_name: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    billable_seconds: Mapped[int] = mapped_column(default=0)
    billed_minutes: Mapped[int] = mapped_column(default=0)
    trunk_id: Mapped[uuid.UUID | None]
    outside_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))  # CallStatus; NULL while live
    reason: Mapped[str | None] = mapped_column(String(255))
    rule: Mapped[str | None] = mapped_column(String(64))
    hangup_side: Mapped[str | None] = mapped_column(String(16))  # HangupSide
    node: Mapped[str] = mapped_column(String(128))
    #: The call's SIP dialogs while it is live (`DialogSnapshot.to_json()` each: the caller's leg
    #: and, once answered, the callee's), so a node that died mid-call can end both with a BYE.
    legs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
