"""Directory tables: enterprises (the tenants themselves) and their users."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, Keyed, TenantOwned


class EnterpriseStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # 停机: no logins, no calls; can be resumed
    CANCELLED = "cancelled"  # 销户: final


class Enterprise(Keyed, Base):
    """A tenant. Its own id is the `tenant_id` of everything it owns."""

    __tablename__ = "enterprises"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    sip_domain: Mapped[str] = mapped_column(String(253), unique=True)
    area_code: Mapped[str] = mapped_column(String(8))
    city: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    main_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    access_number: Mapped[str | None] = mapped_column(String(20))
    features: Mapped[dict[str, Any]]
    max_users: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]


class User(TenantOwned, Base):
    """An employee of an enterprise: the person behind an extension and a client login."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mobile"),
        UniqueConstraint("tenant_id", "extension"),
    )

    name: Mapped[str] = mapped_column(String(64))
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    extension: Mapped[str | None] = mapped_column(String(8))
    is_admin: Mapped[bool] = mapped_column(default=False)
    registered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
