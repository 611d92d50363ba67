"""Operation-log rows. One hash chain per enterprise, and one for the platform itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import PLATFORM_TENANT, Base, TenantOwned

PLATFORM_CHAIN = PLATFORM_TENANT
"""Operator work that belongs to no enterprise is chained under the platform's tenant id."""


class AuditLevel(StrEnum):
    INFO = "info"  # an ordinary change
    WARNING = "warning"  # touches access or security: passwords, suspensions, roles
    CRITICAL = "critical"  # irreversible or platform-wide: cancelling an enterprise


LEVEL_ZH = {AuditLevel.INFO: "一般", AuditLevel.WARNING: "重要", AuditLevel.CRITICAL: "严重"}


class AuditEntry(TenantOwned, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("tenant_id", "seq"),)

    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    target_label: Mapped[str] = mapped_column(String(256))
    level: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last link of each chain. Writers lock it, so links are appended one at a time, and
    `verify` compares it with the last entry, so that cutting off the tail is noticed too."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
