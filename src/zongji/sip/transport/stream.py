"""SIP over a byte stream (TCP and TLS, RFC 3261 §18): a listener and its connections.

Connections are reused in both directions: a response goes back on the connection its
request came in on, and requests to a peer go on an open connection to it if there is one.
Every connection is bounded so that no peer can hold resources forever or stall others:
- a partial message must complete within `message_timeout` (a peer that trickles bytes is cut
  off), and the framer refuses more than one maximal message of buffered input;
- a connection idle for `idle_timeout` is closed;
- output that the peer does not read beyond `max_write_buffer` closes the connection;
- beyond `max_connections` new connections are refused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from zongji.sip.errors import SipParseError
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import DEFAULT_LIMITS, Limits
from zongji.sip.transport.base import ErrorCallback, Flow, Transport, log
from zongji.sip.transport.framing import Frame, FramingError, StreamFramer
from zongji.sip.transport.loop_io import ByteStream, as_byte_stream


@dataclass(frozen=True, slots=True)
class StreamSettings:
    idle_timeout: float = 600.0
    message_timeout: float = 10.0  # also the TLS handshake timeout
    connect_timeout: float = 10.0
    max_write_buffer: int = 1024 * 1024
    max_connections: int = 10_000
    keepalive_pong_timeout: float = 10.0  # RFC 5626 §4.4.1


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection, incoming or outgoing."""

    def __init__(self, owner: StreamTransport, remote: HostPort | None) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._transport: ByteStream | None = None
        self._framer = StreamFramer(owner.limits)
        self._remote = remote
        self._local = owner.local_address
        self._closed = False
        self._pending: list[tuple[bytes, ErrorCallback | None]] = []
        self._connect_task: asyncio.Task[None] | None = None
        self._last_activity = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._message_timer: asyncio.TimerHandle | None = None
        self._keepalive_timer: asyncio.TimerHandle | None = None
        self._pong_waiters: list[asyncio.Future[None]] = []
        self.flow: Flow | None = None
        self.closed_event = asyncio.Event()

    # -- Connection protocol

    @property
    def remote(self) -> HostPort:
        assert self._remote is not None
        return self._remote

    @property
    def local(self) -> HostPort:
        return self._local

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._closed

    def send(self, data: bytes, on_error: ErrorCallback | None = None) -> None:
        if self._closed:
            if on_error is not None:
                on_error(ConnectionError("connection closed"))
            return
        transport = self._transport
        if transport is None:
            self._pending.append((data, on_error))
            return
        transport.write(data)
        self._last_activity = self._loop.time()
        if transport.get_write_buffer_size() > self._owner.settings.max_write_buffer:
            log.warning("peer %s does not read; closing the connection", self._remote)
            self.abort()

    def close(self) -> None:
        if self._closed:
            return
        if self._transport is not None:
            self._transport.close()
        else:
            self._finish(ConnectionError("closed before connecting"))

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        else:
            self.close()

    # -- outgoing

    def start_connect(self, server_hostname: str | None) -> None:
        self._connect_task = self._loop.create_task(self._connect(server_hostname))

    async def _connect(self, server_hostname: str | None) -> None:
        owner = self._owner
        remote = self.remote
        try:
            async with asyncio.timeout(owner.settings.connect_timeout):
                await self._loop.create_connection(
                    lambda: self,
                    remote.host,
                    remote.port,
                    ssl=owner.client_ssl,
                    server_hostname=server_hostname if owner.client_ssl is not None else None,
                    ssl_handshake_timeout=(
                        owner.settings.message_timeout if owner.client_ssl is not None else None
                    ),
                )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            self._finish(error)
        except asyncio.CancelledError:
            self._finish(ConnectionError("connect cancelled"))
            raise

    # -- asyncio callbacks

    def connection_made(self, base_transport: asyncio.BaseTransport) -> None:
        # By the methods it has, not its class: uvloop's transports do not subclass asyncio's.
        transport = as_byte_stream(base_transport)
        owner = self._owner
        if self._remote is None:  # incoming
            if owner.connection_count >= owner.settings.max_connections:
                log.warning("too many connections; refusing one")
                transport.abort()
                self._closed = True
                return
            self._remote = HostPort.from_socket(transport.get_extra_info("peername"))
        self._transport = transport
        self._local = HostPort.from_socket(transport.get_extra_info("sockname"))
        self.flow = Flow(owner, self.remote, self)
        owner._register(self)
        self._last_activity = self._loop.time()
        self._idle_timer = self._loop.call_later(owner.settings.idle_timeout, self._check_idle)
        pending, self._pending = self._pending, []
        for data, on_error in pending:
            self.send(data, on_error)

    def data_received(self, data: bytes) -> None:
        self._last_activity = self._loop.time()
        owner = self._owner
        try:
            frames = self._framer.feed(data)
        except FramingError as error:
            self._framing_error(error)
            return
        for frame, payload in frames:
            if self._closed:
                return
            if frame is Frame.MESSAGE:
                receiver = owner.receiver
                if receiver is not None and self.flow is not None:
                    try:
                        receiver.data_received(payload, self.flow, False)
                    except Exception:
                        log.exception("error handling a message from %s", self._remote)
            elif frame is Frame.PING:
                self.send(b"\r\n")
            else:
                waiters, self._pong_waiters = self._pong_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        self._watch_partial_message()

    def _framing_error(self, error: SipParseError) -> None:
        receiver = self._owner.receiver
        if receiver is not None and self.flow is not None:
            try:
                receiver.framing_error(error, self.flow)
            except Exception:
                log.exception("error answering a framing error")
        # The stream cannot be resynchronised; let the answer drain, then close.
        self.close()

    def _watch_partial_message(self) -> None:
        """Start the clock when a message begins; stop it when it is complete."""
        if self._framer.pending:
            if self._message_timer is None:
                self._message_timer = self._loop.call_later(
                    self._owner.settings.message_timeout, self._message_timed_out
                )
        elif self._message_timer is not None:
            self._message_timer.cancel()
            self._message_timer = None

    def _message_timed_out(self) -> None:
        self._message_timer = None
        if self._framer.pending and not self._closed:
            log.info("closing connection from %s: incomplete message timed out", self._remote)
            self.abort()

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self._closed:
            return
        idle = self._loop.time() - self._last_activity
        timeout = self._owner.settings.idle_timeout
        if idle >= timeout:
            log.debug("closing idle connection to %s", self._remote)
            self.close()
        else:
            self._idle_timer = self._loop.call_later(timeout - idle, self._check_idle)

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or ConnectionError("connection closed"))

    def _finish(self, error: Exception) -> None:
        if self._closed and self.closed_event.is_set():
            return
        self._closed = True
        for timer in (self._idle_timer, self._message_timer, self._keepalive_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._message_timer = self._keepalive_timer = None
        self._owner._unregister(self)
        pending, self._pending = self._pending, []
        for _, on_error in pending:
            if on_error is not None:
                on_error(error)
        for waiter in self._pong_waiters:
            if not waiter.done():
                waiter.set_exception(ConnectionError("connection closed"))
        self._pong_waiters = []
        self.closed_event.set()

    # -- keep-alive (RFC 5626 §4.4.1, client side)

    def ping(self) -> asyncio.Future[None]:
        """Send a CRLFCRLF ping; the future completes when the CRLF pong arrives."""
        waiter: asyncio.Future[None] = self._loop.create_future()
        if self._closed:
            waiter.set_exception(ConnectionError("connection closed"))
            return waiter
        self._pong_waiters.append(waiter)
        self.send(b"\r\n\r\n")
        return waiter

    def keep_alive(self, interval: float) -> None:
        """Ping every `interval` seconds; close the connection if a pong is late."""

        def tick() -> None:
            self._keepalive_timer = None
            if self._closed:
                return
            waiter = self.ping()
            timeout = self._loop.call_later(
                self._owner.settings.keepalive_pong_timeout, self._pong_missed, waiter
            )
            waiter.add_done_callback(lambda _: timeout.cancel())
            self._keepalive_timer = self._loop.call_later(interval, tick)

        self._keepalive_timer = self._loop.call_later(interval, tick)

    def _pong_missed(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            log.info("no keep-alive pong from %s; closing", self._remote)
            waiter.cancel()
            self.abort()


class StreamTransport(Transport):
    """A TCP or TLS listener and the connections made to and from it."""

    def __init__(
        self,
        kind: TransportKind,
        *,
        limits: Limits = DEFAULT_LIMITS,
        settings: StreamSettings | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        advertised_host: str | None = None,
    ) -> None:
        if not kind.stream:
            raise ValueError(f"{kind} is not a stream transport")
        self.kind = kind
        self.limits = limits
        self.settings = settings or StreamSettings()
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self._advertised_host = advertised_host
        self._server: asyncio.Server | None = None
        self._connections: dict[HostPort, StreamConnection] = {}
        self._all: set[StreamConnection] = set()
        self.server_hostname: Callable[[HostPort], str | None] = lambda remote: remote.host

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: StreamConnection(self, None),
            host,
            port,
            ssl=self.server_ssl,
            ssl_handshake_timeout=self.settings.message_timeout if self.server_ssl else None,
            reuse_address=True,
        )
        sockname = self._server.sockets[0].getsockname()
        self.local_address = HostPort.from_socket(sockname)
        self.advertised = HostPort(
            self._advertised_host or self.local_address.host, self.local_address.port
        )

    # -- connection table

    def _register(self, connection: StreamConnection) -> None:
        self._all.add(connection)
        self._connections[connection.remote] = connection

    def _unregister(self, connection: StreamConnection) -> None:
        self._all.discard(connection)
        if (
            connection._remote is not None
            and self._connections.get(connection._remote) is connection
        ):
            del self._connections[connection._remote]

    @property
    def connection_count(self) -> int:
        return len(self._all)

    def connection_to(self, remote: HostPort) -> StreamConnection | None:
        connection = self._connections.get(remote)
        if connection is None or connection.closed:
            return None
        return connection

    # -- Transport

    def send(self, data: bytes, remote: HostPort, on_error: ErrorCallback | None = None) -> None:
        connection = self._connections.get(remote)
        if connection is None or connection.closed:
            connection = self.connect(remote)
        connection.send(data, on_error)

    def connect(self, remote: HostPort) -> StreamConnection:
        """Open (or return the open) connection to `remote`; sends queue until it is up."""
        connection = self._connections.get(remote)
        if connection is not None and not connection.closed:
            return connection
        connection = StreamConnection(self, remote)
        self._connections[remote] = connection
        self._all.add(connection)
        connection.start_connect(self.server_hostname(remote))
        return connection

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._all):
            connection.abort()
        for connection in list(self._all):
            if connection._connect_task is not None:
                connection._connect_task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        for connection in list(self._all):
            await connection.closed_event.wait()
