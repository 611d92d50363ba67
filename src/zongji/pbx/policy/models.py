"""Tables of the outbound policy: the enterprise holiday calendar, and minute usage per month with
the reservations of live calls.

The per-user rules themselves (restriction level, outbound time, working hours, quota, validity)
are directory fields of the user; only what the policy adds lives here.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, TenantOwned


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # 节假日: no outbound calls for "workdays only" users, even on a weekday
    WORKDAY = "workday"  # 调休: a make-up working day, even on a Saturday or Sunday


class CalendarDay(TenantOwned, Base):
    """One day of an enterprise's calendar that differs from plain Monday–Friday."""

    __tablename__ = "policy_calendar_days"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    day: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime]


class MinuteUsage(TenantOwned, Base):
    """Outside minutes a user was billed in one calendar month (enterprise time zone).

    The row is also the lock that serialises a user's quota accounting: whoever reserves or bills
    minutes of that month locks it first (SELECT … FOR UPDATE on PostgreSQL; SQLite's writers are
    serialised by BEGIN IMMEDIATE)."""

    __tablename__ = "policy_minute_usage"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "month"),
        Index("ix_policy_minute_usage_month", "tenant_id", "month"),  # the enterprise's month
    )

    user_id: Mapped[uuid.UUID]
    month: Mapped[str] = mapped_column(String(7))  # "2026-01"
    billed_minutes: Mapped[int] = mapped_column(default=0)
    calls: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class MinuteReservation(TenantOwned, Base):
    """Minutes held by one live, answered call against its user's quota of that month.

    A call can't outlast its reservation (the engine hangs up at the limit), so a reservation whose
    call never ended (its node died) stops counting at `expires_at` and is swept later."""

    __tablename__ = "policy_minute_reservations"
    __table_args__ = (
        UniqueConstraint("call_id"),
        Index("ix_policy_minute_reservations_user", "tenant_id", "user_id", "month"),
    )

    user_id: Mapped[uuid.UUID]
    month: Mapped[str] = mapped_column(String(7))
    call_id: Mapped[str] = mapped_column(String(128))
    minutes: Mapped[int]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
