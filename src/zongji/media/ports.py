"""RTP port allocation over a configured range.

Ports are handed out next-fit, walking the range from where the last allocation stopped, rather
than lowest-free-first: a port just released is the last to be reused, so stray packets still in
flight to a finished call are not received by the next one. The allocator probes by binding, so
ports held by other programs on the machine are simply skipped. RTP takes an even port and,
without rtcp-mux, RTCP the odd port above it (RFC 3550 §11).
"""

from __future__ import annotations

import random
import socket

#: Large enough for a few seconds of traffic, so a busy loop does not drop what arrived.
SOCKET_BUFFER = 256 * 1024


class NoPortAvailable(OSError):
    pass


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class PortAllocator:
    """Binds RTP (and RTCP) sockets on `host` within [min_port, max_port].

    `min_port = 0` means "any free port": the kernel chooses, as tests and one-off tools want.
    """

    def __init__(self, host: str = "127.0.0.1", min_port: int = 20000, max_port: int = 20999):
        if min_port and (min_port > max_port or max_port > 65535 or min_port < 1024):
            raise ValueError(f"bad RTP port range {min_port}-{max_port}")
        self.host = host
        self.min_port = min_port + (min_port & 1)
        self.max_port = max_port
        self._in_use: set[int] = set()
        self._cursor = (
            self.min_port + 2 * random.randrange((max_port - self.min_port) // 2 + 1)
            if min_port
            else 0
        )

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def allocate(self, *, rtcp: bool) -> tuple[socket.socket, socket.socket | None]:
        """Bind an RTP socket on an even port, and an RTCP socket on the next one if asked."""
        if not self.min_port:
            return self._allocate_ephemeral(rtcp)
        span = (self.max_port - self.min_port) // 2 + 1
        for _ in range(span):
            port = self._cursor
            self._cursor += 2
            if self._cursor > self.max_port - (1 if rtcp else 0):
                self._cursor = self.min_port
            if port in self._in_use or (rtcp and port + 1 > self.max_port):
                continue
            try:
                rtp_sock = _bind(self.host, port)
            except OSError:
                continue
            rtcp_sock = None
            if rtcp:
                try:
                    rtcp_sock = _bind(self.host, port + 1)
                except OSError:
                    rtp_sock.close()
                    continue
            self._in_use.add(port)
            return rtp_sock, rtcp_sock
        raise NoPortAvailable(f"no free RTP port in {self.min_port}-{self.max_port} on {self.host}")

    def _allocate_ephemeral(self, rtcp: bool) -> tuple[socket.socket, socket.socket | None]:
        for _ in range(50):
            rtp_sock = _bind(self.host, 0)
            port = rtp_sock.getsockname()[1]
            if not rtcp:
                self._in_use.add(port)
                return rtp_sock, None
            if port % 2 == 0 and port < 65535:
                try:
                    rtcp_sock = _bind(self.host, port + 1)
                except OSError:
                    pass
                else:
                    self._in_use.add(port)
                    return rtp_sock, rtcp_sock
            rtp_sock.close()
        raise NoPortAvailable(f"no free even/odd port pair on {self.host}")

    def release(self, port: int) -> None:
        self._in_use.discard(port)
