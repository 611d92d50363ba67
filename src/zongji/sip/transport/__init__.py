"""Transports (RFC 3261 §18): UDP, TCP and TLS now; WebSocket (RFC 7118) plugs into `base`."""

from zongji.sip.transport.base import Connection, Destination, Flow, Transport
from zongji.sip.transport.layer import TransportLayer, response_flow
from zongji.sip.transport.stream import StreamConnection, StreamSettings, StreamTransport
from zongji.sip.transport.tcp import listen_tcp
from zongji.sip.transport.tls import client_context, listen_tls, server_context
from zongji.sip.transport.udp import UdpTransport

__all__ = [
    "Connection",
    "Destination",
    "Flow",
    "StreamConnection",
    "StreamSettings",
    "StreamTransport",
    "Transport",
    "TransportLayer",
    "UdpTransport",
    "client_context",
    "listen_tcp",
    "listen_tls",
    "response_flow",
    "server_context",
]
