"""What every transport provides, and the flow: one path between one of our transports and a peer.

A transport is a bound socket (UDP) or a listener with its connections (TCP, TLS; WebSocket
later, RFC 7118). It hands raw bytes up with the `Flow` they came in on and sends bytes to an
address; it knows nothing of SIP beyond framing. The `TransportLayer` above it parses, fixes
up Via and routes responses.

The WebSocket seam: a WebSocket transport subclasses `Transport`, and its connections implement
`Connection` (message framing instead of Content-Length framing, reliable, connection-bound).
It delivers whole messages with `datagram=False` so Content-Length is still checked, and its
flows always carry their connection, because a browser cannot be reached any other way.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from zongji.sip.errors import SipParseError
from zongji.sip.network import HostPort, TransportKind

log = logging.getLogger("zongji.sip.transport")

ErrorCallback = Callable[[Exception], None]


class Connection(Protocol):
    """A connection-oriented path to one peer (TCP, TLS, and later WebSocket)."""

    @property
    def remote(self) -> HostPort: ...

    @property
    def local(self) -> HostPort: ...

    @property
    def closed(self) -> bool: ...

    def send(self, data: bytes, on_error: ErrorCallback | None = None) -> None: ...

    def close(self) -> None: ...


class MessageReceiver(Protocol):
    """Where a transport hands what it reads (the `TransportLayer`)."""

    def data_received(self, data: bytes, flow: Flow, datagram: bool) -> None: ...

    def framing_error(self, error: SipParseError, flow: Flow) -> None: ...


class Transport(ABC):
    """A bound transport: a UDP socket, or a TCP/TLS listener with its connections."""

    kind: TransportKind
    local_address: HostPort
    advertised: HostPort  # sent-by in Via and host:port in Contact
    receiver: MessageReceiver | None = None

    @property
    def reliable(self) -> bool:
        return self.kind.reliable

    @abstractmethod
    def send(self, data: bytes, remote: HostPort, on_error: ErrorCallback | None = None) -> None:
        """Send bytes to `remote`, opening a connection if the transport needs one.

        Never blocks and never raises for network trouble: a failure is reported later through
        `on_error` (connection refused, reset, TLS handshake failure ...).
        """

    @abstractmethod
    async def close(self) -> None: ...

    def connection_to(self, remote: HostPort) -> Connection | None:
        """An open connection to `remote`, if this transport has connections."""
        return None

    @property
    def connection_count(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.local_address}>"


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """One of our transports, a peer address, and (for stream transports) the connection.

    A request's flow is where it came from: the server transaction answers on it, and a
    registrar can keep it to reach a phone behind NAT later (RFC 5626). A client
    transaction's flow is where it sends and retransmits.
    """

    transport: Transport
    remote: HostPort
    connection: Connection | None = None

    @property
    def kind(self) -> TransportKind:
        return self.transport.kind

    @property
    def reliable(self) -> bool:
        return self.transport.kind.reliable

    @property
    def local(self) -> HostPort:
        return (
            self.connection.local if self.connection is not None else self.transport.local_address
        )

    def send(self, data: bytes, on_error: ErrorCallback | None = None) -> None:
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.send(data, on_error)
        else:
            self.transport.send(data, self.remote, on_error)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Flow):
            return NotImplemented
        return self.transport is other.transport and self.remote == other.remote

    def __hash__(self) -> int:
        return hash((id(self.transport), self.remote))

    def __repr__(self) -> str:
        return f"<Flow {self.kind} {self.local} -> {self.remote}>"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where to send a request before a transport is picked: a kind and a resolved address."""

    kind: TransportKind
    address: HostPort
