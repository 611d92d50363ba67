"""Open RTP ports kept for the next endpoint, instead of closed and opened again.

Every call opens two endpoints and closes them again. Opening one costs two sockets (RTP and
RTCP), their options, two binds and two event-loop transports; closing costs as much again.
At a few hundred calls a second that was several percent of the node's CPU. A destroyed
endpoint's transports are therefore parked here, still open and bound, and the next endpoint
that needs the same kind (with or without a separate RTCP port) takes them over: the transport
is handed to the new endpoint as its protocol, with no system call at all.

A parked port drops whatever still arrives at it (the ended call's peer may send for a moment
after the BYE), and is reused only after `QUARANTINE_SECONDS`, oldest first, so a late packet of
one call does not reach the next. (The allocator alone reuses a port as soon as its next-fit
cursor comes round again: every few seconds at a few hundred calls a second.) At most
`spare_limit()` ports are parked; a port beyond that, or one whose transport is closing, is
closed as before. The limit bounds the reuse rate to limit / quarantine ports a second, so it is
as high as the process's file limit comfortably allows (two descriptors a port).
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

QUARANTINE_SECONDS = 1.0
"""How long a port stays parked before another endpoint may have it: well past the last RTP
packet of a peer that has received our BYE (and past its first retransmission, 500 ms)."""
SPARE_MAX = 1024


def spare_limit() -> int:
    """`SPARE_MAX`, or an eighth of the open-file limit if that is less (two files a port)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return SPARE_MAX
    return max(0, min(SPARE_MAX, soft // 8))


class _Parked(asyncio.DatagramProtocol):
    """The protocol of a parked port: what arrives is read and dropped."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        pass

    def error_received(self, exc: Exception) -> None:
        pass


_PARKED = _Parked()


@dataclass
class Spare:
    """One parked port: its sockets and their open transports."""

    port: int
    sock: socket.socket
    rtcp_sock: socket.socket | None
    transport: asyncio.DatagramTransport
    rtcp_transport: asyncio.DatagramTransport | None
    since: float
    #: the sockets' own addresses, as the ended endpoint read them: the next endpoint needs
    #: no system call to learn them again
    local: tuple[str, int] | None = None
    local_rtcp: tuple[str, int] | None = None

    def close(self) -> None:
        self.transport.close()
        if self.rtcp_transport is not None:
            self.rtcp_transport.close()


class SparePorts:
    """Parked ports by kind (separate RTCP port or not), oldest first."""

    def __init__(
        self,
        quarantine: float = QUARANTINE_SECONDS,
        limit: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quarantine = quarantine
        self._limit = spare_limit() if limit is None else limit
        self._monotonic = monotonic
        self._parked: dict[bool, deque[Spare]] = {True: deque(), False: deque()}

    def __len__(self) -> int:
        return sum(len(kind) for kind in self._parked.values())

    def park(
        self,
        port: int,
        sock: socket.socket,
        rtcp_sock: socket.socket | None,
        transport: asyncio.DatagramTransport | None,
        rtcp_transport: asyncio.DatagramTransport | None,
        *,
        local: tuple[str, int] | None = None,
        local_rtcp: tuple[str, int] | None = None,
    ) -> bool:
        """Keep an ended endpoint's open port; False if it can't be kept (the caller closes).
        `local`, `local_rtcp`: the sockets' addresses, if known, kept for the next endpoint."""
        if transport is None or transport.is_closing() or len(self) >= self._limit:
            return False
        rtcp = rtcp_sock is not None
        if rtcp and (rtcp_transport is None or rtcp_transport.is_closing()):
            return False
        transport.set_protocol(_PARKED)
        if rtcp_transport is not None:
            rtcp_transport.set_protocol(_PARKED)
        self._parked[rtcp].append(
            Spare(
                port,
                sock,
                rtcp_sock,
                transport,
                rtcp_transport,
                self._monotonic(),
                local,
                local_rtcp if rtcp else None,
            )
        )
        return True

    def take(self, *, rtcp: bool) -> Spare | None:
        """The oldest parked port of that kind whose quarantine is over, if any."""
        parked = self._parked[rtcp]
        if parked and self._monotonic() - parked[0].since >= self._quarantine:
            return parked.popleft()
        return None

    def close_all(self) -> list[int]:
        """Close every parked port; returns their numbers (for the allocator to release)."""
        ports: list[int] = []
        for parked in self._parked.values():
            while parked:
                spare = parked.popleft()
                spare.close()
                ports.append(spare.port)
        return ports
