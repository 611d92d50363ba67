"""SIP over TLS (RFC 3261 §26.2, RFC 5630): a `StreamTransport` with asyncio's ssl.

The server context holds our certificate; the client context decides which peers we trust
when we open connections (a carrier, another node). Both are plain `ssl.SSLContext`s so the
deployment chooses certificates, CAs and protocol versions.
"""

from __future__ import annotations

import ssl

from zongji.sip.network import TransportKind
from zongji.sip.parser import DEFAULT_LIMITS, Limits
from zongji.sip.transport.stream import StreamSettings, StreamTransport


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A TLS server context with our certificate chain (TLS 1.2 or later)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """A TLS client context that verifies peers against `cafile` (or the system store)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def listen_tls(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    server_ssl: ssl.SSLContext,
    client_ssl: ssl.SSLContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    settings: StreamSettings | None = None,
    advertised_host: str | None = None,
) -> StreamTransport:
    """Listen for SIP over TLS; outgoing connections use `client_ssl` (default: system CAs)."""
    transport = StreamTransport(
        TransportKind.TLS,
        limits=limits,
        settings=settings,
        server_ssl=server_ssl,
        client_ssl=client_ssl or client_context(),
        advertised_host=advertised_host,
    )
    await transport.listen(host, port)
    return transport
