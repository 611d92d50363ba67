"""From a URI to an address to send to (a small part of RFC 3263 §4).

Transport from `;transport=` (or TLS for `sips:`), port from the URI or the transport default,
host from `maddr` or the host part; names are resolved with the system resolver (A/AAAA) and
cached briefly. NAPTR and SRV lookups are not done: trunks and phones are configured with
explicit hosts and ports, and a SIP front does SRV-based spreading (DESIGN §5).
"""

from __future__ import annotations

import asyncio
import socket
import time

from zongji.sip.errors import SipError
from zongji.sip.network import HostPort, TransportKind, is_ip_address, strip_brackets
from zongji.sip.transport.base import Destination
from zongji.sip.uri import SipUri, Uri


class UnroutableUri(SipError):
    """A URI we cannot send to (tel:, an unknown scheme, a name that does not resolve)."""


class Resolver:
    def __init__(self, ttl: float = 60.0) -> None:
        self._ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}

    @staticmethod
    def _target(uri: Uri, default_kind: TransportKind) -> tuple[TransportKind, str, int]:
        if not isinstance(uri, SipUri):
            raise UnroutableUri(f"cannot route to {uri}")
        kind = uri.transport or (TransportKind.TLS if uri.secure else default_kind)
        host = strip_brackets(uri.maddr or uri.host)
        return kind, host, uri.port or kind.default_port

    def resolve_now(
        self, uri: Uri, default_kind: TransportKind = TransportKind.UDP
    ) -> Destination | None:
        """The destination if it needs no DNS query (an IP literal or a cached name)."""
        kind, host, port = self._target(uri, default_kind)
        if is_ip_address(host):
            return Destination(kind, HostPort(host, port))
        cached = self._cache.get(host.lower())
        if cached is not None and cached[0] > time.monotonic():
            return Destination(kind, HostPort(cached[1], port))
        return None

    async def resolve(
        self, uri: Uri, default_kind: TransportKind = TransportKind.UDP
    ) -> Destination:
        destination = self.resolve_now(uri, default_kind)
        if destination is not None:
            return destination
        kind, host, port = self._target(uri, default_kind)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as error:
            raise UnroutableUri(f"cannot resolve {host}: {error}") from error
        if not infos:
            raise UnroutableUri(f"cannot resolve {host}")
        infos.sort(key=lambda info: info[0] != socket.AF_INET)  # IPv4 first
        address = str(infos[0][4][0])
        self._cache[host.lower()] = (time.monotonic() + self._ttl, address)
        return Destination(kind, HostPort(address, port))
