"""SIP over TCP (RFC 3261 §18): a `StreamTransport` without encryption."""

from __future__ import annotations

from zongji.sip.network import TransportKind
from zongji.sip.parser import DEFAULT_LIMITS, Limits
from zongji.sip.transport.stream import StreamSettings, StreamTransport


async def listen_tcp(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: Limits = DEFAULT_LIMITS,
    settings: StreamSettings | None = None,
    advertised_host: str | None = None,
) -> StreamTransport:
    """Listen for SIP over TCP (port 0: any free port; read it from `local_address`)."""
    transport = StreamTransport(
        TransportKind.TCP, limits=limits, settings=settings, advertised_host=advertised_host
    )
    await transport.listen(host, port)
    return transport
