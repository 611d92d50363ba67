"""A bridged call: two endpoints relaying to each other, on real UDP sockets."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np

from zongji.media import Codec, EndpointSpec, LocalMediaServer
from zongji.media.g711 import decode, encode, transcode_table
from zongji.media.rtp import parse_rtp

from .conftest import Phone, new_phone, settle, sine


async def call(
    media: LocalMediaServer,
    phones: list[Phone],
    codec_a: Codec = Codec.PCMU,
    codec_b: Codec = Codec.PCMU,
    te_a: int | None = 101,
    te_b: int | None = 101,
) -> tuple[Phone, Phone, str, str, tuple[str, int], tuple[str, int]]:
    alice, bob = await new_phone(phones), await new_phone(phones)
    a = await media.create_endpoint(
        EndpointSpec(codec=codec_a, remote=alice.addr, telephone_event_pt=te_a)
    )
    b = await media.create_endpoint(
        EndpointSpec(codec=codec_b, remote=bob.addr, telephone_event_pt=te_b)
    )
    await media.connect(a.id, b.id)
    return alice, bob, a.id, b.id, a.local, b.local


async def test_relay_preserves_payload_and_order(media, phones):
    alice, bob, _, _, to_a, _to_b = await call(media, phones)
    payloads = [bytes([i]) * 160 for i in range(50)]
    for p in payloads:
        alice.send(alice.rtp(p), to_a)
    await settle()
    got = bob.packets()
    assert [p.payload for p in got] == payloads
    seqs = [p.sequence for p in got]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    stamps = [p.timestamp for p in got]
    assert all((b - a) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(stamps))
    assert len({p.ssrc for p in got}) == 1
    assert got[0].ssrc != alice.ssrc  # each leg has its own SSRC (a B2BUA, not a wire)
    assert not alice.received  # nothing echoed back


async def test_relay_both_directions_and_timing(media, phones):
    """Packets go out as they arrive: the spacing a phone sends with is what the other hears."""
    alice, bob, _, _, to_a, to_b = await call(media, phones)
    tone = sine(1000, 1.0)
    await asyncio.gather(alice.stream(to_a, tone), bob.stream(to_b, sine(500, 1.0)))
    await settle()
    for phone in (alice, bob):
        arrivals = np.array([t for t, _ in phone.received])
        assert len(arrivals) == 50
        gaps = np.diff(arrivals) * 1000
        # a bare relay adds no pacing of its own: the mean gap is the sender's 20 ms
        assert abs(gaps.mean() - 20.0) < 2.0
    assert np.array_equal(bob.audio(Codec.PCMU), decode(Codec.PCMU, encode(Codec.PCMU, tone)))


async def test_relay_transcodes_between_laws(media, phones):
    alice, bob, _, _, to_a, to_b = await call(media, phones, Codec.PCMU, Codec.PCMA)
    tone = sine(700, 0.2)
    payload = encode(Codec.PCMU, tone[:160])
    alice.send(alice.rtp(payload, pt=0), to_a)
    bob.send(bob.rtp(encode(Codec.PCMA, tone[:160]), pt=8), to_b)
    await settle()
    (to_bob,) = bob.packets()
    assert to_bob.payload_type == 8
    table = transcode_table(Codec.PCMU, Codec.PCMA)
    assert table is not None
    assert to_bob.payload == payload.translate(table)
    # the audio survives: decoded A-law is within G.711 quantisation of the original
    err = decode(Codec.PCMA, to_bob.payload).astype(int) - tone[:160]
    assert np.abs(err).max() < 300
    (to_alice,) = alice.packets()
    assert to_alice.payload_type == 0


async def test_relay_passes_telephone_events_with_each_sides_payload_type(media, phones):
    alice, bob, a, _, to_a, _ = await call(media, phones, te_a=101, te_b=96)
    event = bytes([5, 0x0A, 0x01, 0x40])
    alice.send(alice.rtp(event, pt=101, marker=True, samples=0), to_a)
    await settle()
    (got,) = bob.packets()
    assert got.payload_type == 96
    assert got.payload == event
    from .conftest import drain

    events = await drain(media)
    assert [(e.endpoint_id, e.digit) for e in events] == [(a, "5")]


async def test_relay_drops_events_for_a_peer_without_telephone_event(media, phones):
    alice, bob, _, _, to_a, _ = await call(media, phones, te_a=101, te_b=None)
    alice.send(alice.rtp(bytes([1, 0x0A, 0, 160]), pt=101, samples=0), to_a)
    alice.send(alice.rtp(bytes(160), pt=0), to_a)
    await settle()
    assert [p.payload_type for p in bob.packets()] == [0]


async def test_symmetric_rtp_latches_to_the_real_source(media, phones):
    """Behind NAT the phone's packets come from another port than its SDP says."""
    alice, bob, nat = await new_phone(phones), await new_phone(phones), await new_phone(phones)
    a = await media.create_endpoint(EndpointSpec(remote=alice.addr))
    b = await media.create_endpoint(EndpointSpec(remote=bob.addr))
    await media.connect(a.id, b.id)
    nat.send(nat.rtp(b"\x01" * 160), a.local)  # alice, seen through her NAT
    bob.send(bob.rtp(b"\x02" * 160), b.local)
    await settle()
    assert [p.payload for p in nat.packets()] == [b"\x02" * 160]
    assert not alice.received
    stats = await media.endpoint_stats(a.id)
    assert stats.latches == 1


async def test_connect_then_play_holds_relay_and_resumes_numbering(media, phones):
    """A prompt during a call replaces the relayed audio, and the stream stays continuous."""
    from zongji.media import Silence

    alice, bob, _, b, to_a, _ = await call(media, phones)
    alice.send(alice.rtp(b"\x01" * 160), to_a)
    await settle(0.03)
    await media.play(b, [Silence(100)])
    for _ in range(5):
        alice.send(alice.rtp(b"\x01" * 160), to_a)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.15)
    alice.send(alice.rtp(b"\x01" * 160), to_a)
    await settle()
    got = [parse_rtp(d) for _, d in bob.received]
    kinds = [p.payload[0] for p in got]
    assert kinds[0] == 1
    assert kinds[-1] == 1
    assert 0xFF in kinds  # the silence was played (µ-law zero)
    seqs = [p.sequence for p in got]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))
    assert len({p.ssrc for p in got}) == 1
