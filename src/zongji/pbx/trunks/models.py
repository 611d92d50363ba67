"""SIP trunks to the carrier (OPS-2): the platform's, not an enterprise's.

The operator configures the carriers' trunks; enterprises only use them. So a trunk is not
`TenantOwned`: no enterprise session can see one, and one trunk can serve every enterprise
(`all_enterprises`) or a listed set (`enterprise_ids`).

The registration password is stored as given, not hashed: answering a carrier's Digest
challenge needs the password itself (RFC 3261 §22.2). It never leaves the service in an API
answer or the operation log (docs/pbx/trunks.md).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, Keyed


class TrunkTransport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


class TrunkMode(StrEnum):
    REGISTRATION = "registration"  # we register with the carrier and answer its challenges
    IP = "ip"  # the carrier knows our address; we know the addresses its calls come from


class NumberFormat(StrEnum):
    """How called and calling numbers are written towards the carrier."""

    E164 = "e164"  # +8613912345678
    NATIONAL = "national"  # 13912345678, 02588886666, 00442079460958


class Trunk(Keyed, Base):
    __tablename__ = "pbx_trunks"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int]
    transport: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(16))
    username: Mapped[str | None] = mapped_column(String(128))
    password: Mapped[str | None] = mapped_column(String(256))
    realm: Mapped[str | None] = mapped_column(String(253))
    register_expires: Mapped[int]
    from_domain: Mapped[str | None] = mapped_column(String(253))
    # IP trunks: the carrier's source addresses / CIDRs its calls may come from
    inbound_addresses: Mapped[list[str]] = mapped_column(JSON)
    priority: Mapped[int]
    enabled: Mapped[bool]
    options_interval: Mapped[int]  # seconds between OPTIONS keep-alives; 0: none
    all_enterprises: Mapped[bool]
    enterprise_ids: Mapped[list[str]] = mapped_column(JSON)  # UUIDs, when not all
    number_format: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def fields(self) -> dict[str, Any]:
        """What the operation log compares before and after a change (the password is
        reported as changed or not by the audit log's redaction, never its value)."""
        return {
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            "mode": self.mode,
            "username": self.username,
            "password": self.password,
            "realm": self.realm,
            "register_expires": self.register_expires,
            "from_domain": self.from_domain,
            "inbound_addresses": list(self.inbound_addresses),
            "priority": self.priority,
            "enabled": self.enabled,
            "options_interval": self.options_interval,
            "all_enterprises": self.all_enterprises,
            "enterprise_ids": list(self.enterprise_ids),
            "number_format": self.number_format,
        }
