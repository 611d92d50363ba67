"""RTP packet format (RFC 3550 §5.1)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zongji.media.rtp import (
    DropReason,
    RtpError,
    RtpPacket,
    build_rtp,
    header_layout,
    is_rtcp,
    parse_rtp,
    seq_delta,
    ts_delta,
)

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=400),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=64).map(lambda b: b[: len(b) // 4 * 4])),
    padding=st.integers(0, 32),
)


@given(packets)
def test_build_then_parse_is_identity(packet: RtpPacket) -> None:
    assert parse_rtp(packet.build()) == packet


@given(st.binary(max_size=2000))
def test_parse_never_fails_except_with_rtp_error(data: bytes) -> None:
    reason = None
    try:
        p = parse_rtp(data)
    except RtpError as e:
        reason = e.reason
    else:
        assert len(p.payload) <= len(data) - 12
    assert reason is None or isinstance(reason, DropReason)


def test_known_packet_from_sipp_capture() -> None:
    # the first packet of /usr/share/sip-tester/dtmf_2833_1.pcap, digit 1, marker set
    data = bytes.fromhex("80e51f30000033e00e05384e010a0000")
    p = parse_rtp(data)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp) == (101, True, 0x1F30, 0x33E0)
    assert p.ssrc == 0x0E05384E
    assert p.payload == bytes.fromhex("010a0000")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\x00\x00", DropReason.TRUNCATED),
        (b"\x80" + bytes(11) + bytes(1500), DropReason.OVERSIZED),
        (b"\x40" + bytes(11) + bytes(160), DropReason.BAD_VERSION),
        (b"\x00" + bytes(11), DropReason.BAD_VERSION),
        (b"\x8f" + bytes(11) + bytes(8), DropReason.TRUNCATED),  # 15 CSRCs announced, 2 present
        (b"\x90" + bytes(11) + b"\x00\x00\x00\x09", DropReason.TRUNCATED),  # extension too long
        (b"\xa0" + bytes(11) + b"\x01\x02\x09", DropReason.TRUNCATED),  # padding > payload
        (b"\xa0" + bytes(11) + b"\x01\x02\x00", DropReason.TRUNCATED),  # padding count 0
    ],
)
def test_malformed_headers_are_rejected_with_reason(data: bytes, reason: DropReason) -> None:
    with pytest.raises(RtpError) as info:
        header_layout(data)
    assert info.value.reason is reason


def test_padding_and_csrcs_locate_payload() -> None:
    data = build_rtp(0, 1, 2, 3, b"abcd", csrcs=(7, 8), padding=4)
    layout = header_layout(data)
    assert data[layout.payload_start : layout.payload_end] == b"abcd"
    assert layout.csrcs == (7, 8)


def test_csrc_list_is_capped_at_fifteen() -> None:
    p = parse_rtp(build_rtp(0, 1, 2, 3, b"", csrcs=tuple(range(20))))
    assert p.csrcs == tuple(range(15))


def test_rtcp_mux_demultiplexing() -> None:
    """RFC 5761 §4: second byte 192–223 is RTCP; RTP payload types 0, 8, 101 never collide."""
    assert is_rtcp(struct.pack("!BBH", 0x80, 200, 6))
    assert is_rtcp(struct.pack("!BBH", 0x80, 201, 1))
    for pt in (0, 8, 13, 96, 101, 127):
        for marker in (0, 0x80):
            assert not is_rtcp(build_rtp(pt, 0, 0, 0, b"", marker=bool(marker)))


def test_wrapping_arithmetic() -> None:
    assert seq_delta(2, 0xFFFF) == 3
    assert seq_delta(0xFFFF, 2) == -3
    assert ts_delta(10, 0xFFFFFFF0) == 26
    assert ts_delta(0xFFFFFFF0, 10) == -26
