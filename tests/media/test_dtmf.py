"""RFC 4733 telephone-events: each key press is one digit, however its packets arrive."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from zongji.media import DtmfMethod, DtmfReceived, EndpointSpec
from zongji.media.dtmf import (
    TelephoneEvent,
    TelephoneEventReceiver,
    TelephoneEventSender,
    parse_event,
)
from zongji.media.red import RedBlock, build_red, parse_red
from zongji.media.rtp import build_rtp, parse_rtp

from .conftest import drain, new_phone, settle
from .pcap import read_udp

CAPTURES = Path("/usr/share/sip-tester")
NAMES = {str(d): str(d) for d in range(10)} | {"star": "*", "pound": "#"}


def ev(code: int, duration: int, end: bool = False) -> bytes:
    return TelephoneEvent(code, end, 10, duration).build()


def test_one_press_is_one_digit_with_duplicates_and_three_end_packets() -> None:
    rx = TelephoneEventReceiver()
    got = [rx.receive(1000, True, ev(5, 160))]
    got += [rx.receive(1000, False, ev(5, d)) for d in (320, 320, 480)]
    got += [rx.receive(1000, False, ev(5, 640, end=True)) for _ in range(3)]
    assert [d for d in got if d] == ["5"]


def test_lost_first_packet_still_reports_once() -> None:
    rx = TelephoneEventReceiver()
    got = [rx.receive(1000, False, ev(7, d)) for d in (320, 480)]
    got += [rx.receive(1000, False, ev(7, 640, end=True))]
    assert [d for d in got if d] == ["7"]


def test_same_key_twice_is_two_digits() -> None:
    rx = TelephoneEventReceiver()
    a = [rx.receive(1000, True, ev(1, 160)), rx.receive(1000, False, ev(1, 800, True))]
    b = [rx.receive(3000, True, ev(1, 160)), rx.receive(3000, False, ev(1, 800, True))]
    assert [d for d in a + b if d] == ["1", "1"]


def test_long_event_segments_are_one_press() -> None:
    """§2.5.1.3: past 0xFFFF the sender starts a new segment with a new timestamp, no marker."""
    rx = TelephoneEventReceiver()
    assert rx.receive(0, True, ev(9, 0xFFFF)) == "9"
    assert rx.receive(0xFFFF, False, ev(9, 1000)) is None
    assert rx.receive(0xFFFF, False, ev(9, 2000, end=True)) is None


def test_reordered_straggler_of_an_old_event_is_ignored() -> None:
    rx = TelephoneEventReceiver()
    rx.receive(1000, True, ev(2, 160))
    rx.receive(3000, True, ev(3, 160))
    assert rx.receive(1000, False, ev(2, 640, end=True)) is None


def test_truncated_event_payload_is_ignored() -> None:
    assert parse_event(b"\x01\x02") is None
    assert TelephoneEventReceiver().receive(0, True, b"\x01") is None


def test_sender_then_receiver() -> None:
    tx = TelephoneEventSender("12#", duration_ms=100, gap_ms=60)
    rx = TelephoneEventReceiver()
    digits = []
    ts = 0
    event_ts = 0
    while True:
        try:
            packets = tx.step()
        except StopIteration:
            break
        ts += 160
        for p in packets or []:
            if p.starts_event:
                event_ts = ts
            d = rx.receive(event_ts, p.marker, p.payload)
            if d:
                digits.append(d)
    assert digits == ["1", "2", "#"]


def test_sender_rejects_non_digits() -> None:
    with pytest.raises(ValueError, match="not a DTMF digit"):
        TelephoneEventSender("12x")


@pytest.mark.parametrize("name", sorted(NAMES))
async def test_sipp_capture_replayed_detects_the_digit_once(media, phones, name: str) -> None:
    """SIPp's dtmf_2833_*.pcap: 7 updates and 3 end packets per press, replayed at their pace."""
    datagrams = read_udp(CAPTURES / f"dtmf_2833_{name}.pcap")
    assert len(datagrams) == 10
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, telephone_event_pt=101))
    start = datagrams[0].time
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for d in datagrams:
        await asyncio.sleep(max(0.0, d.time - start - (loop.time() - t0)))
        phone.send(d.payload, ep.local)
    await settle()
    events = await drain(media)
    assert events == [DtmfReceived(ep.id, NAMES[name], DtmfMethod.RFC4733)]
    stats = await media.endpoint_stats(ep.id)
    assert stats.packets_received == 10
    assert stats.dropped == 0


async def test_all_sipp_captures_back_to_back_make_the_whole_keypad(media, phones) -> None:
    """The twelve captures are cuts from one call (one SSRC): replayed in their sequence order
    they are one caller pressing every key. The "0" cut jumps 3600 sequence numbers ahead and
    back in time, which the engine must take as a restarted stream, not as stale packets."""
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    cuts = {n: read_udp(CAPTURES / f"dtmf_2833_{n}.pcap") for n in NAMES}
    order = sorted(cuts, key=lambda n: parse_rtp(cuts[n][0].payload).sequence)
    for name in order:
        for d in cuts[name]:
            phone.send(d.payload, ep.local)
        await asyncio.sleep(0.01)
    await settle()
    digits = [e.digit for e in await drain(media) if isinstance(e, DtmfReceived)]
    assert digits == [NAMES[n] for n in order]
    assert sorted(digits) == sorted("0123456789*#")


async def test_send_dtmf_produces_rfc4733_packets(media, phones) -> None:
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, telephone_event_pt=96))
    await media.send_dtmf(ep.id, "4*", duration_ms=80)
    await asyncio.sleep(0.5)
    packets = [parse_rtp(d) for _, d in phone.received]
    assert packets
    assert all(p.payload_type == 96 for p in packets)
    rx = TelephoneEventReceiver()
    digits = [rx.receive(p.timestamp, p.marker, p.payload) for p in packets]
    assert [d for d in digits if d] == ["4", "*"]
    ends = [p for p in packets if parse_event(p.payload).end]  # type: ignore[union-attr]
    assert len(ends) == 6  # each end packet three times
    seqs = [p.sequence for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))


# --- RFC 2198 redundancy ----------------------------------------------------------------------


def test_red_round_trip_and_malformed() -> None:
    blocks = [RedBlock(101, 320, ev(1, 800, True)), RedBlock(101, 0, ev(2, 160))]
    assert parse_red(build_red(blocks)) == blocks
    assert parse_red(b"") is None
    assert parse_red(b"\xe5\x00\x14") is None  # a block header cut short
    assert parse_red(b"\xe5\x00\x14\x10\x65") is None  # block longer than the payload


async def test_redundant_events_report_each_press_once_even_if_its_start_was_lost(
    media, phones
) -> None:
    """Packets carry the previous press's end as a redundant block and the current one as the
    primary. The packet that started "2" is lost; the next packet's redundant copy recovers it."""
    phone, peer_phone = await new_phone(phones), await new_phone(phones)
    ep = await media.create_endpoint(
        EndpointSpec(remote=phone.addr, telephone_event_pt=101, red_pt=100)
    )
    peer = await media.create_endpoint(EndpointSpec(remote=peer_phone.addr, telephone_event_pt=97))
    await media.connect(ep.id, peer.id)

    def red_packet(ts: int, blocks: list[tuple[int, bytes]], marker: bool = False) -> bytes:
        red = build_red([RedBlock(101, off, data) for off, data in blocks])
        packet = build_rtp(100, phone.seq, ts, phone.ssrc, red, marker=marker)
        phone.seq += 1
        return packet

    one_end = ev(1, 800, True)
    sent = [
        red_packet(1000, [(0, ev(1, 160))], marker=True),
        red_packet(1000, [(0, ev(1, 800, True))]),
        red_packet(1000, [(0, one_end)]),
        # lost: red_packet(2000, [(1000, one_end), (0, ev(2, 160))], marker=True)
        red_packet(2160, [(1160, one_end), (160, ev(2, 160)), (0, ev(2, 320))]),
        red_packet(2160, [(160, ev(2, 160)), (0, ev(2, 640, True))]),
        red_packet(2160, [(0, ev(2, 640, True))]),
    ]
    for packet in sent:
        phone.send(packet, ep.local)
    await settle()
    digits = [e.digit for e in await drain(media) if isinstance(e, DtmfReceived)]
    assert digits == ["1", "2"]
    relayed = peer_phone.packets()
    assert {p.payload_type for p in relayed} == {97}  # primary blocks, as plain events
    assert [parse_event(p.payload).event for p in relayed] == [1, 1, 1, 2, 2, 2]  # type: ignore[union-attr]


async def test_send_dtmf_in_band_to_a_peer_without_telephone_event(media, phones) -> None:
    """A trunk that did not offer telephone-event still hears the keys, as tones."""
    from zongji.media.dtmf_inband import InbandDtmfDetector
    from zongji.media.g711 import Codec

    phone = await new_phone(phones)
    ep = await media.create_endpoint(
        EndpointSpec(codec=Codec.PCMA, remote=phone.addr, telephone_event_pt=None)
    )
    await media.send_dtmf(ep.id, "90#")
    await asyncio.sleep(0.7)
    audio = phone.audio(Codec.PCMA)
    assert {p.payload_type for p in phone.packets()} == {8}
    detector = InbandDtmfDetector()
    heard = [d for i in range(0, len(audio) - 159, 160) for d in detector.feed(audio[i : i + 160])]
    assert heard == ["9", "0", "#"]
