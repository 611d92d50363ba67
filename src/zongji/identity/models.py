"""Identity tables: console accounts, login codes, devices and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, Keyed, TenantOwned


class Role(StrEnum):
    OPERATOR = "operator"  # 运营商: runs the platform
    ENTERPRISE_ADMIN = "enterprise_admin"  # 后台维护人员: the enterprise's console
    CONTACT_MANAGER = "contact_manager"  # 管理权限人员: edits the directory from the client
    EMPLOYEE = "employee"  # 企业员工


class SubjectKind(StrEnum):
    CONSOLE = "console"  # a console account (operator or enterprise admin)
    USER = "user"  # an employee of the directory


class ConsoleAccount(TenantOwned, Base):
    """Account + password login for the web console. Operators belong to the platform tenant."""

    __tablename__ = "console_accounts"

    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class CodeChannel(StrEnum):
    SMS = "sms"  # CL-3 短信验证码
    VOICE = "voice"  # CL-4 语音验证码


class LoginCode(Keyed, Base):
    """A one-time login code sent to a mobile. Only its hash is kept.

    Not tenant-owned: one mobile may belong to users of several enterprises, and the code is
    asked for before anyone knows which enterprise the person will log in to.
    """

    __tablename__ = "login_codes"

    mobile: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    requested_from: Mapped[str | None] = mapped_column(String(64))


class Device(TenantOwned, Base):
    """A client installation (browser, phone, softphone) a subject logged in from.

    Refresh tokens are bound to it; deregistering it (注销) ends its sessions, and the next login
    on it needs a new code.
    """

    __tablename__ = "devices"

    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(128))
    platform: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    deregistered_at: Mapped[datetime | None]


class AuthSession(TenantOwned, Base):
    """One login on one device: the refresh token's state. Access tokens name it, so revoking
    it cuts them off at once."""

    __tablename__ = "auth_sessions"

    device_id: Mapped[uuid.UUID] = mapped_column(index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_refresh_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    refresh_expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    refreshed_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
