"""SIP over UDP (RFC 3261 §18): one socket, one datagram per message."""

from __future__ import annotations

import asyncio
import socket
from typing import Final

from zongji.sip.network import HostPort, TransportKind
from zongji.sip.transport.base import ErrorCallback, Flow, Transport, log
from zongji.sip.transport.loop_io import DatagramSocket, as_datagram_socket

DEFAULT_RECEIVE_BUFFER: Final = 8 * 1024 * 1024
# Flows of the peers heard from lately, by the address tuple the socket gives: a phone or trunk
# sends every message of its calls from one address, so one `Flow` (and its `HostPort`) serves
# them all instead of two new objects per datagram. Bounded, since anyone can send from any
# address; cleared whole when full (rebuilding an entry costs what not caching would).
_FLOW_CACHE_SIZE: Final = 4096


class UdpTransport(Transport, asyncio.DatagramProtocol):
    """A bound UDP socket. Create with `await UdpTransport.bind(...)`."""

    kind = TransportKind.UDP

    def __init__(self, advertised_host: str | None = None) -> None:
        self._socket_transport: DatagramSocket | None = None
        self._advertised_host = advertised_host
        self._closed = asyncio.get_running_loop().create_future()
        self.datagrams_received = 0
        self._flows: dict[tuple[str | object, ...], Flow] = {}

    @classmethod
    async def bind(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        advertised_host: str | None = None,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
    ) -> UdpTransport:
        """Bind a UDP socket (port 0: any free port; read it back from `local_address`).

        The receive buffer is raised towards `receive_buffer` (the kernel caps it at
        net.core.rmem_max): a burst of requests must queue, not drop, while the loop is busy.
        """
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, receive_buffer)
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        transport = cls(advertised_host)
        await loop.create_datagram_endpoint(lambda: transport, sock=sock)
        return transport

    # -- asyncio callbacks

    def connection_made(self, base_transport: asyncio.BaseTransport) -> None:
        # By the methods it has, not its class: uvloop's transports do not subclass asyncio's.
        transport = as_datagram_socket(base_transport)
        self._socket_transport = transport
        self.local_address = HostPort.from_socket(transport.get_extra_info("sockname"))
        self.advertised = HostPort(
            self._advertised_host or self.local_address.host, self.local_address.port
        )

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.datagrams_received += 1
        receiver = self.receiver
        if receiver is None:
            return
        try:
            flow = self._flows.get(addr)
            if flow is None:
                flow = self._flow_from(addr)
            receiver.data_received(data, flow, True)
        except Exception:
            # Nothing a peer sends may take the socket down.
            log.exception("error handling a datagram from %s", addr)

    def _flow_from(self, addr: tuple[str | object, ...]) -> Flow:
        flow = Flow(self, HostPort(str(addr[0]), int(str(addr[1]))))
        flows = self._flows
        if len(flows) >= _FLOW_CACHE_SIZE:
            flows.clear()
        flows[addr] = flow
        return flow

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and friends: UDP has no connection to fail, so the transaction
        # timers deal with the silence.
        log.debug("UDP error on %s: %s", self.local_address, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)

    # -- Transport

    def send(self, data: bytes, remote: HostPort, on_error: ErrorCallback | None = None) -> None:
        transport = self._socket_transport
        if transport is None or transport.is_closing():
            if on_error is not None:
                on_error(ConnectionError("UDP transport closed"))
            return
        try:
            transport.sendto(data, (remote.host, remote.port))
        except OSError as error:
            if on_error is not None:
                on_error(error)

    async def close(self) -> None:
        if self._socket_transport is not None:
            self._socket_transport.close()
            await self._closed
