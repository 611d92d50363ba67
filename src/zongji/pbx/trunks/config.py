"""A trunk's settings as the runtime holds them: immutable, detached from the database.

The runtime keeps these in memory (no query per call, DESIGN §2) and replaces them when the
operator changes a trunk. Comparing two of them says whether a trunk's registration and
keep-alive must restart.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

from zongji.pbx.trunks.models import NumberFormat, Trunk, TrunkMode, TrunkTransport

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Source:
    """Where a trunk's inbound requests may come from: an address or CIDR block, and optionally
    one source port (`203.0.113.5:5060`), for a carrier that shares its address with others."""

    network: Network
    port: int | None = None

    def matches(self, address: IpAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)


@dataclass(frozen=True)
class TrunkConfig:
    id: uuid.UUID
    name: str
    host: str
    port: int
    transport: TrunkTransport
    mode: TrunkMode
    username: str | None
    password: str | None
    realm: str | None
    register_expires: int
    from_domain: str | None
    inbound_sources: tuple[Source, ...]
    priority: int
    enabled: bool
    options_interval: int
    all_enterprises: bool
    enterprise_ids: frozenset[uuid.UUID]
    number_format: NumberFormat

    @classmethod
    def of(cls, trunk: Trunk) -> TrunkConfig:
        return cls(
            id=trunk.id,
            name=trunk.name,
            host=trunk.host,
            port=trunk.port,
            transport=TrunkTransport(trunk.transport),
            mode=TrunkMode(trunk.mode),
            username=trunk.username,
            password=trunk.password,
            realm=trunk.realm,
            register_expires=trunk.register_expires,
            from_domain=trunk.from_domain,
            inbound_sources=tuple(parse_source(a) for a in trunk.inbound_addresses),
            priority=trunk.priority,
            enabled=trunk.enabled,
            options_interval=trunk.options_interval,
            all_enterprises=trunk.all_enterprises,
            enterprise_ids=frozenset(uuid.UUID(i) for i in trunk.enterprise_ids),
            number_format=NumberFormat(trunk.number_format),
        )

    def serves(self, tenant_id: uuid.UUID) -> bool:
        return self.all_enterprises or tenant_id in self.enterprise_ids

    @property
    def registers(self) -> bool:
        return self.mode is TrunkMode.REGISTRATION

    @property
    def uri_host(self) -> str:
        """`host:port` for a URI (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def uri_params(self) -> str:
        return f";transport={self.transport.value}"

    @property
    def domain(self) -> str:
        """The carrier's SIP domain: the realm if it has one, else its host."""
        return self.realm or self.host

    def same_signalling(self, other: TrunkConfig) -> bool:
        """Do registration and keep-alive carry on unchanged under `other`?"""
        return all(getattr(self, k) == getattr(other, k) for k in _SIGNALLING)


_SIGNALLING: tuple[str, ...] = ("host", "port", "transport", "mode", "username", "password")
_SIGNALLING += ("realm",)
_SIGNALLING += ("register_expires", "options_interval", "enabled")


def parse_source(text: str) -> Source:
    """`203.0.113.5`, `203.0.113.0/28` (host bits tolerated), `203.0.113.5:5060`, `2001:db8::/32`
    or `[2001:db8::1]:5060`. Raises ValueError for anything else."""
    text = text.strip()
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"not an address: {text}")
            port = _port(rest[1:])
        text = host
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = _port(port_text)
    network = ipaddress.ip_network(text, strict=False)
    if port is not None and network.num_addresses != 1:
        raise ValueError(f"a port goes with one address, not a block: {text}")
    return Source(network, port)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"not a port: {text}")
    return int(text)
