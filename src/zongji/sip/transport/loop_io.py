"""What the SIP transports need from the event loop's transports: behaviour, not a class.

asyncio hands a protocol its transport typed as `asyncio.BaseTransport`. The stdlib loop's
socket transports subclass `asyncio.Transport` and `asyncio.DatagramTransport`; uvloop's (the
loop `zongji serve` runs on) implement the same methods without subclassing them. A check such
as `isinstance(transport, asyncio.Transport)` therefore passes on the stdlib loop and refuses
every uvloop connection. The transports check for the methods they call instead, with the
runtime-checkable protocols below, and are typed against those protocols, so mypy still checks
every call they make.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ByteStream(Protocol):
    """A connected byte stream (TCP or TLS), as `StreamConnection` uses it."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


@runtime_checkable
class DatagramSocket(Protocol):
    """A bound datagram endpoint, as `UdpTransport` uses it."""

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def is_closing(self) -> bool: ...

    def close(self) -> None: ...


def as_byte_stream(transport: asyncio.BaseTransport) -> ByteStream:
    """`transport` as a byte stream, whichever event loop made it.

    Raises TypeError when it lacks a method a stream connection calls: that is a loop the
    transports were not written for, and saying so beats failing on the first write.
    """
    if not isinstance(transport, ByteStream):
        raise TypeError(f"{type(transport).__qualname__} is not a byte-stream transport")
    return transport


def as_datagram_socket(transport: asyncio.BaseTransport) -> DatagramSocket:
    """`transport` as a datagram endpoint, whichever event loop made it (TypeError if not)."""
    if not isinstance(transport, DatagramSocket):
        raise TypeError(f"{type(transport).__qualname__} is not a datagram transport")
    return transport
