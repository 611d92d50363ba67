"""RTP port allocation over a range, probing by binding (other programs share this machine)."""

from __future__ import annotations

import random
import socket

import pytest

from zongji.media.ports import NoPortAvailable, PortAllocator


def free_range(width: int) -> tuple[int, int]:
    """A range of ports that are free right now (probed, never assumed)."""
    for _ in range(200):
        base = random.randrange(30000, 60000 - width) & ~1
        socks = []
        try:
            for port in range(base, base + width):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base, base + width - 1
    raise RuntimeError("no free port range found")


def test_even_rtp_and_odd_rtcp_within_range() -> None:
    lo, hi = free_range(10)
    alloc = PortAllocator("127.0.0.1", lo, hi)
    pairs = [alloc.allocate(rtcp=True) for _ in range(5)]
    try:
        ports = [(a.getsockname()[1], b.getsockname()[1]) for a, b in pairs if b]
        assert len(ports) == 5
        for rtp, rtcp in ports:
            assert rtp % 2 == 0
            assert rtcp == rtp + 1
            assert lo <= rtp < rtcp <= hi
        with pytest.raises(NoPortAvailable):
            alloc.allocate(rtcp=True)
    finally:
        for a, b in pairs:
            a.close()
            if b:
                b.close()


def test_ports_held_by_others_are_skipped() -> None:
    lo, hi = free_range(6)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", lo + 2))
    alloc = PortAllocator("127.0.0.1", lo, hi)
    got = []
    try:
        got = [alloc.allocate(rtcp=False)[0] for _ in range(2)]
        assert sorted(s.getsockname()[1] for s in got) == [lo, lo + 4]
    finally:
        squatter.close()
        for s in got:
            s.close()


def test_released_port_is_reused_last() -> None:
    """Next-fit: stray packets for a call that just ended do not reach the next call."""
    lo, hi = free_range(8)
    alloc = PortAllocator("127.0.0.1", lo, hi)
    first, _ = alloc.allocate(rtcp=False)
    port = first.getsockname()[1]
    first.close()
    alloc.release(port)
    following = [alloc.allocate(rtcp=False)[0] for _ in range(3)]
    try:
        assert port not in [s.getsockname()[1] for s in following]
    finally:
        for s in following:
            s.close()


def test_ephemeral_mode_pairs_even_and_odd() -> None:
    alloc = PortAllocator("127.0.0.1", 0, 0)
    rtp, rtcp = alloc.allocate(rtcp=True)
    try:
        assert rtcp is not None
        assert rtp.getsockname()[1] % 2 == 0
        assert rtcp.getsockname()[1] == rtp.getsockname()[1] + 1
    finally:
        rtp.close()
        rtcp.close()  # type: ignore[union-attr]


def test_bad_range_is_refused() -> None:
    with pytest.raises(ValueError, match="bad RTP port range"):
        PortAllocator("127.0.0.1", 30000, 20000)
