"""RTCP reports (RFC 3550 §6) and the reception statistics behind them (A.1, A.3, A.8)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zongji.media.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpError,
    SenderReport,
    SourceDescription,
    build_compound,
    build_goodbye,
    ntp_middle,
    ntp_now,
    parse_rtcp,
    round_trip_seconds,
)
from zongji.media.stats import BAD, OK, RESTARTED, ReceptionStats

u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock,
    ssrc=u32,
    fraction_lost=st.integers(0, 255),
    cumulative_lost=st.integers(-0x800000, 0x7FFFFF),
    highest_seq=u32,
    jitter=u32,
    lsr=u32,
    dlsr=u32,
)


@given(
    st.builds(
        SenderReport,
        ssrc=u32,
        ntp_timestamp=st.integers(0, 2**64 - 1),
        rtp_timestamp=u32,
        packet_count=u32,
        octet_count=u32,
        reports=st.lists(blocks, max_size=5),
    ),
    st.lists(st.tuples(u32, st.binary(min_size=1, max_size=40)), max_size=3),
)
def test_sender_report_with_sdes_round_trips(sr: SenderReport, cnames: list) -> None:
    sdes = SourceDescription([(ssrc, {1: name}) for ssrc, name in cnames])
    assert parse_rtcp(build_compound([sr, sdes])) == [sr, sdes]


@given(st.lists(blocks, max_size=31), st.lists(u32, max_size=5), st.binary(max_size=40))
def test_receiver_report_and_bye_round_trip(reports, ssrcs, reason) -> None:
    packets = [ReceiverReport(1234, reports), Goodbye(ssrcs, reason)]
    assert parse_rtcp(build_compound(packets)) == packets


@given(st.binary(max_size=300))
def test_parser_rejects_garbage_only_with_rtcp_error(data: bytes) -> None:
    with contextlib.suppress(RtcpError):
        parse_rtcp(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\xc8\x00",  # short
        b"\x80\xca\x00\x00",  # compound must start with SR or RR
        b"\x80\xc9\x00\x07" + bytes(8),  # length runs past the datagram
        b"\x81\xc9\x00\x01" + bytes(4),  # one report block announced, none present
        b"\x40\xc9\x00\x01" + bytes(4),  # version 1
    ],
)
def test_invalid_compounds(data: bytes) -> None:
    with pytest.raises(RtcpError):
        parse_rtcp(data)


def test_round_trip_time_from_lsr_and_dlsr() -> None:
    sent = ntp_now(1_000_000.0)
    block = ReportBlock(1, 0, 0, 0, 0, lsr=ntp_middle(sent), dlsr=int(0.25 * 65536))
    rtt = round_trip_seconds(block, ntp_now(1_000_000.4))
    assert rtt == pytest.approx(0.15, abs=1e-4)
    assert round_trip_seconds(ReportBlock(1, 0, 0, 0, 0, 0, 0), ntp_now()) is None


def test_reception_stats_loss_and_fraction() -> None:
    s = ReceptionStats(ssrc=9, seq=65530)
    received = [65530, 65531, 65533, 65535, 0, 1, 3]  # wraps; 65532, 65534, 2 lost
    for i, seq in enumerate(received):
        assert s.update(seq, i * 160, i * 160) == OK
    assert s.extended_max_seq == 65536 + 3
    assert s.expected == 10
    assert s.cumulative_lost == 3
    assert s.interval_fraction_lost() == 3 * 256 // 10
    assert s.interval_fraction_lost() == 0  # nothing new since


def test_reception_stats_jitter_follows_rfc3550() -> None:
    s = ReceptionStats(ssrc=9, seq=0)
    # arrivals alternate 10 timestamp units early and late
    for i in range(200):
        s.update(i, i * 160, i * 160 + (10 if i % 2 else 0))
    assert s.jitter == pytest.approx(10, rel=0.05)


def test_reception_stats_restart_after_two_sequential_jumps() -> None:
    s = ReceptionStats(ssrc=9, seq=100)
    assert s.update(30000, 0, 0) == BAD  # one wild packet is ignored …
    assert s.update(30001, 0, 0) == RESTARTED  # … the second in sequence restarts the count
    assert s.base_seq == 30001


@given(st.integers(0, 2**32 - 1))
def test_goodbye_is_the_compound_of_an_empty_report_and_a_bye(ssrc: int) -> None:
    packet = build_goodbye(ssrc)
    assert packet == build_compound([ReceiverReport(ssrc, []), Goodbye([ssrc])])
    report, bye = parse_rtcp(packet)
    assert isinstance(report, ReceiverReport)
    assert report.ssrc == ssrc
    assert isinstance(bye, Goodbye)
    assert bye.ssrcs == [ssrc]
