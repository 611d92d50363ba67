"""Fixtures for the media engine's tests: a running engine on real UDP sockets, and test phones.

No test binds a fixed port: the engine allocates with port 0 (the kernel picks), and so do the
phones, because other test suites run on this machine at the same time.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import numpy as np
import pytest
import uvloop

from zongji.media import LocalMediaServer, ManualClock, MediaEvent
from zongji.media.g711 import FRAME_SAMPLES, Codec, Pcm, decode, encode
from zongji.media.rtp import RtpPacket, build_rtp, is_rtcp, parse_rtp


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192 <= hard or (soft < hard and hard < 8192):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))


_raise_fd_limit()


@pytest.fixture
async def media() -> AsyncIterator[LocalMediaServer]:
    async with LocalMediaServer(port_min=0) as server:
        yield server


@pytest.fixture
async def manual() -> AsyncIterator[tuple[LocalMediaServer, ManualClock]]:
    clock = ManualClock()
    async with LocalMediaServer(port_min=0, clock=clock) as server:
        yield server, clock


class Phone(asyncio.DatagramProtocol):
    """A test peer on its own UDP socket: sends RTP, keeps every datagram it receives."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[tuple[float, bytes]] = []
        self.rtcp: list[bytes] = []
        self.ssrc = int(np.random.default_rng().integers(1, 2**32 - 1))
        self.seq = 1000
        self.ts = 50_000

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> Phone:
        loop = asyncio.get_running_loop()
        _, phone = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return phone

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if is_rtcp(data):
            self.rtcp.append(data)
        else:
            self.received.append((time.monotonic(), data))

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    def rtp(
        self, payload: bytes, pt: int = 0, *, marker: bool = False, samples: int = 160
    ) -> bytes:
        """The next packet of this phone's stream."""
        packet = build_rtp(pt, self.seq, self.ts, self.ssrc, payload, marker=marker)
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + samples) & 0xFFFFFFFF
        return packet

    async def stream(
        self,
        to: tuple[str, int],
        pcm: Pcm,
        codec: Codec = Codec.PCMU,
        *,
        frame: int = FRAME_SAMPLES,
    ) -> None:
        """Send audio in real time, one packet per 20 ms on absolute deadlines."""
        start = time.monotonic()
        for i, at in enumerate(range(0, len(pcm) - frame + 1, frame)):
            self.send(self.rtp(encode(codec, pcm[at : at + frame]), codec.payload_type), to)
            delay = start + (i + 1) * frame / 8000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def packets(self) -> list[RtpPacket]:
        return [parse_rtp(d) for _, d in self.received]

    def audio(self, codec: Codec, *, pt: int | None = None) -> Pcm:
        """Everything received with the codec's payload type, decoded, in arrival order."""
        want = codec.payload_type if pt is None else pt
        chunks = [p.payload for p in self.packets() if p.payload_type == want]
        return decode(codec, b"".join(chunks)) if chunks else np.zeros(0, dtype=np.int16)


@pytest.fixture
async def phones() -> AsyncIterator[list[Phone]]:
    """A list to put phones in; they are closed after the test."""
    opened: list[Phone] = []
    yield opened
    for p in opened:
        p.close()


async def new_phone(phones: list[Phone]) -> Phone:
    p = await Phone.open()
    phones.append(p)
    return p


def sine(freq: float, seconds: float, amplitude: float = 8000.0) -> Pcm:
    t = np.arange(int(seconds * 8000)) / 8000
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spectrum_peaks(pcm: Pcm, freqs: Iterable[float]) -> dict[float, float]:
    """Level (dB relative to the strongest bin) of the spectrum near each frequency."""
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    mag = np.abs(np.fft.rfft(x))
    bins = np.fft.rfftfreq(len(pcm), 1 / 8000)
    ref = mag.max() + 1e-9
    out = {}
    for f in freqs:
        near = (bins > f - 15) & (bins < f + 15)
        out[f] = 20 * np.log10(mag[near].max() / ref + 1e-12)
    return out


async def drain(server: LocalMediaServer, seconds: float = 0.05) -> list[MediaEvent]:
    """Every event the server emits within `seconds`."""
    events: list[MediaEvent] = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return events
        try:
            events.append(await asyncio.wait_for(server.next_event(), left))
        except TimeoutError:
            return events


async def wait_for_event(server: LocalMediaServer, kind: type, within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind.__name__} within {within} s")
        ev = await asyncio.wait_for(server.next_event(), left)
        if isinstance(ev, kind):
            return ev


async def settle(seconds: float = 0.05) -> None:
    """Let datagrams in flight on loopback arrive."""
    await asyncio.sleep(seconds)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    """The engine runs on uvloop in production, so its tests do too."""
    return {"uvloop": uvloop.new_event_loop}
