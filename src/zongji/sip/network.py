"""Network-level names shared by the message and transport layers.

They live apart from both so that a Via header can say "UDP 192.0.2.1:5060" without the
message layer importing sockets, and the transport layer can hand out addresses without
importing the parser.
"""

from __future__ import annotations

import enum
import socket
from dataclasses import dataclass


class TransportKind(enum.StrEnum):
    """A SIP transport as written in a Via header (RFC 3261 §18, RFC 7118 for WS/WSS)."""

    UDP = "UDP"
    TCP = "TCP"
    TLS = "TLS"
    WS = "WS"
    WSS = "WSS"

    @property
    def reliable(self) -> bool:
        """Reliable transports carry no retransmissions (RFC 3261 §17.1.1.2 and §17.1.2.2)."""
        return self is not TransportKind.UDP

    @property
    def secure(self) -> bool:
        return self in (TransportKind.TLS, TransportKind.WSS)

    @property
    def stream(self) -> bool:
        """Stream transports need Content-Length framing (RFC 3261 §18.3)."""
        return self in (TransportKind.TCP, TransportKind.TLS)

    @property
    def default_port(self) -> int:
        return 5061 if self.secure else 5060

    @classmethod
    def from_text(cls, text: str) -> TransportKind | None:
        """The kind named by a Via transport or a `transport=` URI parameter, if we know it."""
        return _KINDS.get(text) or _KINDS.get(text.upper())


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host (name or IP literal, IPv6 without brackets) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{format_host(self.host)}:{self.port}"

    @classmethod
    def from_socket(cls, address: tuple[object, ...]) -> HostPort:
        """Build from the address tuple a socket returns (IPv4 or IPv6)."""
        return cls(str(address[0]), int(str(address[1])))


def format_host(host: str) -> str:
    """Write a host for a URI or Via: IPv6 literals need brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def strip_brackets(host: str) -> str:
    """The bare form of an IPv6 reference (`[::1]` -> `::1`); other hosts unchanged."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def is_ip_address(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (with or without brackets); never resolves names."""
    host = strip_brackets(host)
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except (OSError, ValueError):
        return False
    return True


# Enum construction by value is slow; this is read for every Via.
_KINDS: dict[str, TransportKind] = {kind.value: kind for kind in TransportKind}
