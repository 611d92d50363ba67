"""Device credentials (SEC-3, SEC-4): one row per device a user was issued a SIP login for.

The password is never stored: only the Digest HA1 values for the realm the credential was issued
in (the enterprise's SIP domain), for MD5 and SHA-256 (RFC 8760). `realm` is kept beside them
because an HA1 is bound to it: if the enterprise's SIP domain changes, the credential no longer
verifies and must be issued again (the API says so with `needs_reissue`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, TenantOwned


class DeviceKind(StrEnum):
    SOFTPHONE = "softphone"
    WEB = "web"
    DESK_PHONE = "desk_phone"


class SipCredential(TenantOwned, Base):
    """A SIP login the platform issued to one of a user's devices."""

    __tablename__ = "sip_credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        Index("ix_sip_credentials_tenant_user", "tenant_id", "user_id"),
        # A username tried in the wrong enterprise's realm is looked up across tenants (403).
        Index("ix_sip_credentials_username", "username"),
    )

    user_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64), default="")
    username: Mapped[str] = mapped_column(String(64))
    realm: Mapped[str] = mapped_column(String(253))
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_registered_at: Mapped[datetime | None]
