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

from sqlalchemy import JSON, BigInteger, Index, String, Text, UniqueConstraint
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


class RegistrationBinding(TenantOwned, Base):
    """One registered Contact, kept so that registrations outlive the node's process.

    The location service (in memory) is what calls are routed by; this table is its journal,
    written behind it (`BindingStore`) and read once when the node starts. `node` is the node
    that holds the binding (a phone registers to the node that serves its calls); a node loads
    only its own rows. The flow a binding was reached on is kept as its transport and source
    address, from which the node builds a flow again (see docs/pbx/devices.md for what that
    means per transport)."""

    __tablename__ = "pbx_bindings"
    __table_args__ = (
        Index("ix_pbx_bindings_node", "node", "expires_at"),
        Index("ix_pbx_bindings_tenant_user", "tenant_id", "user_id"),
    )

    node: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[uuid.UUID]
    credential_id: Mapped[uuid.UUID]
    username: Mapped[str] = mapped_column(String(64))
    contact_key: Mapped[str] = mapped_column(Text)  # the Contact as sent, without headers
    sent: Mapped[str] = mapped_column(Text)  # the Contact as sent (listed back in the 200)
    uri: Mapped[str] = mapped_column(Text)  # where requests go (fixed for NAT)
    path: Mapped[list[str]] = mapped_column(JSON)  # RFC 3327, first hop first
    nat: Mapped[bool]
    call_id: Mapped[str] = mapped_column(String(255))
    cseq: Mapped[int] = mapped_column(BigInteger)
    user_agent: Mapped[str] = mapped_column(String(128))
    transport: Mapped[str] = mapped_column(String(8))  # udp, tcp, tls
    source_host: Mapped[str] = mapped_column(String(64))
    source_port: Mapped[int]
    instance_id: Mapped[str | None] = mapped_column(String(255))  # +sip.instance (RFC 5626)
    reg_id: Mapped[int | None]
    expires_at: Mapped[datetime]
