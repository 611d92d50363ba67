"""Directory tables: enterprises (the tenants themselves), departments, users, extension plans,
numbers, the change feed, and each user's personal contacts and favourites."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, Keyed, TenantOwned

SortKey = String(255).with_variant(String(255, collation="C"), "postgresql")
"""Listing order is byte order of the pinyin sort key on every database (a PostgreSQL locale
collation would ignore the separators in it)."""


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


class Department(TenantOwned, Base):
    """A node of the department tree (DIR-2, ADM-4). `parent_id` None: a top-level department."""

    __tablename__ = "departments"
    __table_args__ = (Index("ix_departments_tenant_parent", "tenant_id", "parent_id"),)

    parent_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)  # order among its siblings
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboundRestriction(StrEnum):
    """ADM-15 外呼限制: each level includes the ones before it."""

    INTERNAL = "internal"  # extensions only
    LOCAL = "local"
    DOMESTIC = "domestic"
    INTERNATIONAL = "international"  # only where the operator allows it (SEC-5)


class OutboundMode(StrEnum):
    """ADM-16 外呼方式."""

    DIRECT_DIAL = "direct_dial"  # 电话直拨
    CALLBACK = "callback"  # 电话回拨
    NETWORK = "network"  # 网络通话


class OutboundTime(StrEnum):
    """ADM-17 外呼时间."""

    UNLIMITED = "unlimited"
    WORKDAYS = "workdays"  # Monday–Friday within working hours; otherwise internal calls only


class User(TenantOwned, Base):
    """An employee of an enterprise: the person behind an extension and a client login."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "mobile"),
        UniqueConstraint("tenant_id", "extension"),
        Index("ix_users_listing", "tenant_id", "pinned", "pin_order", "sort_key"),
        Index("ix_users_tenant_department", "tenant_id", "department_id"),
    )

    name: Mapped[str] = mapped_column(String(64))
    name_readings: Mapped[str] = mapped_column(Text, default="")
    sort_key: Mapped[str] = mapped_column(SortKey, default="")
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    extension: Mapped[str | None] = mapped_column(String(8))
    department_id: Mapped[uuid.UUID | None]
    title: Mapped[str | None] = mapped_column(String(64), default=None)
    email: Mapped[str | None] = mapped_column(String(128), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    address: Mapped[str | None] = mapped_column(String(256), default=None)
    avatar: Mapped[str | None] = mapped_column(String(128), default=None)  # file-storage key
    main_number: Mapped[str | None] = mapped_column(String(20), default=None)  # None: enterprise's
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_receptionist: Mapped[bool] = mapped_column(default=False)
    conference_allowed: Mapped[bool] = mapped_column(default=True)
    outbound_restriction: Mapped[str] = mapped_column(
        String(16), default=OutboundRestriction.DOMESTIC.value
    )
    outbound_mode: Mapped[str] = mapped_column(String(16), default=OutboundMode.NETWORK.value)
    outbound_time: Mapped[str] = mapped_column(String(16), default=OutboundTime.UNLIMITED.value)
    monthly_minutes: Mapped[int | None] = mapped_column(default=None)  # None: unlimited
    work_start: Mapped[str] = mapped_column(String(5), default="09:00")
    work_end: Mapped[str] = mapped_column(String(5), default="18:00")
    valid_from: Mapped[date | None] = mapped_column(default=None)
    valid_until: Mapped[date | None] = mapped_column(default=None)
    pinned: Mapped[bool] = mapped_column(default=False)
    pin_order: Mapped[int] = mapped_column(default=0)
    # 停机 of one user (OPS-3): set by the enterprise's admin or the operator, cleared on resume
    suspended_at: Mapped[datetime | None] = mapped_column(default=None)
    registered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ExtensionPlan(TenantOwned, Base):
    """An enterprise's extension length and allowed ranges (ADM-5). Absent: the defaults."""

    __tablename__ = "extension_plans"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    length: Mapped[int]
    ranges: Mapped[list[list[str]]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class PoolNumber(TenantOwned, Base):
    """A number in an enterprise's pool (assigned by the operator), optionally a user's direct line
    (CALL-9). Unique across the platform: the PBX finds the enterprise and the user of a called
    number with one indexed lookup."""

    __tablename__ = "pool_numbers"
    __table_args__ = (UniqueConstraint("number"), UniqueConstraint("tenant_id", "user_id"))

    number: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]


class ChangeKind(StrEnum):
    USER = "user"
    DEPARTMENT = "department"


class DirectoryChange(TenantOwned, Base):
    """The change feed (DIR-3): one row per department or user, carrying the sequence number of its
    latest change; a deleted one stays as a tombstone. `id` is the changed object's id."""

    __tablename__ = "directory_changes"
    __table_args__ = (Index("ix_directory_changes_feed", "tenant_id", "seq"),)

    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)


class PersonalContact(TenantOwned, Base):
    """个人通讯录 (DIR-7): a contact private to one user."""

    __tablename__ = "personal_contacts"
    __table_args__ = (Index("ix_personal_contacts_owner", "tenant_id", "owner_id", "sort_key"),)

    owner_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(64))
    name_readings: Mapped[str] = mapped_column(Text, default="")
    sort_key: Mapped[str] = mapped_column(SortKey, default="")
    phones: Mapped[list[str]] = mapped_column(JSON)
    email: Mapped[str | None] = mapped_column(String(128))
    company: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Favourite(TenantOwned, Base):
    """常用联系人 (DIR-8): a colleague or one of the user's personal contacts, on top."""

    __tablename__ = "favourites"
    __table_args__ = (UniqueConstraint("tenant_id", "owner_id", "target_id"),)

    owner_id: Mapped[uuid.UUID]
    target_kind: Mapped[str] = mapped_column(String(16))  # "user" or "contact"
    target_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
