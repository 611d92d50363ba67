"""Garbage on RTP ports: counted, dropped, and no other stream notices."""

from __future__ import annotations

import asyncio

import numpy as np

from zongji.media import EndpointSpec
from zongji.media.rtp import build_rtp

from .conftest import new_phone, settle
from .test_relay import call


async def test_attacks_on_one_call_leave_both_calls_intact(media, phones) -> None:
    alice, bob, a, _, to_a, _ = await call(media, phones)
    carol, dave, _, _, to_c, _ = await call(media, phones)
    attacker = await new_phone(phones)
    rng = np.random.default_rng(5)
    sent_ab, sent_cd = [], []
    for i in range(50):
        payload = bytes([i]) * 160
        alice.send(alice.rtp(payload), to_a)
        carol.send(carol.rtp(payload[::-1]), to_c)
        sent_ab.append(payload)
        sent_cd.append(payload[::-1])
        # from alice's own address (a compromised or broken phone, or a spoofer on her path):
        alice.send(b"\x80\x00\x01", to_a)  # truncated
        alice.send(build_rtp(0, i, i, alice.ssrc, bytes(1600)), to_a)  # oversized
        alice.send(b"\x40" + bytes(171), to_a)  # RTP version 1
        alice.send(build_rtp(0, 7 * i, 0, 0xBAD, bytes(160)), to_a)  # another SSRC
        alice.send(build_rtp(0, i, i, alice.ssrc, b"", csrcs=(1,))[:14], to_a)  # CSRC cut off
        alice.send(build_rtp(34, i, i, alice.ssrc, bytes(160)), to_a)  # unnegotiated PT
        alice.send(b"\x81\xc9\x00\x07" + bytes(8), to_a)  # RTCP on the RTP port, no mux
        # a flood from elsewhere: valid-looking RTP and random bytes
        for _ in range(20):
            attacker.send(build_rtp(0, i, i, 1234, bytes(160)), to_a)
            attacker.send(rng.bytes(int(rng.integers(1, 400))), to_a)  # (uvloop drops empty ones)
        await asyncio.sleep(0.005)
    await settle(0.1)
    assert [p.payload for p in bob.packets()] == sent_ab
    assert [p.payload for p in dave.packets()] == sent_cd
    stats = await media.endpoint_stats(a)
    assert stats.packets_received == 50
    assert stats.packets_relayed == 0  # a's relayed counter is what it sends to alice
    # Every bad datagram is counted once, under the first check it fails: the cheapest checks
    # (length, version, payload type) come before the source check, so some of the attacker's
    # random bytes land in those counters too; the lower bounds are what alice's address sent.
    assert stats.dropped == 7 * 50 + 2 * 20 * 50
    assert stats.dropped_truncated >= 100
    assert stats.dropped_oversized == 50
    assert stats.dropped_bad_version >= 50
    assert stats.dropped_unknown_payload_type >= 100
    assert stats.dropped_wrong_ssrc == 50
    assert stats.dropped_unknown_source >= 1000


async def test_flood_before_the_phone_speaks_cannot_take_over_after_it_does(media, phones):
    """Symmetric RTP latches to the first source; once the real phone is locked in, a flood
    from another address is dropped for as long as the phone keeps talking."""
    alice, bob = await new_phone(phones), await new_phone(phones)
    attacker = await new_phone(phones)
    a = await media.create_endpoint(EndpointSpec(remote=alice.addr))
    b = await media.create_endpoint(EndpointSpec(remote=bob.addr))
    await media.connect(a.id, b.id)
    for i in range(30):
        alice.send(alice.rtp(b"\x01" * 160), a.local)
        for _ in range(10):
            attacker.send(build_rtp(0, i, i * 160, 99, b"\x02" * 160), a.local)
        await asyncio.sleep(0.01)
    await settle()
    assert {p.payload for p in bob.packets()} == {b"\x01" * 160}


async def test_ssrc_change_is_accepted_once_it_proves_itself(media, phones) -> None:
    """A phone that restarts its stream (new SSRC after hold) must not be cut off."""
    alice, bob, a, _, to_a, _ = await call(media, phones)
    for _ in range(5):
        alice.send(alice.rtp(b"\x01" * 160), to_a)
        await asyncio.sleep(0.02)
    alice.ssrc ^= 0xFFFF
    alice.seq = 40000
    for _ in range(10):
        alice.send(alice.rtp(b"\x03" * 160), to_a)
        await asyncio.sleep(0.02)
    await settle()
    payloads = [p.payload[0] for p in bob.packets()]
    assert payloads[:5] == [1] * 5
    assert payloads[-5:] == [3] * 5
    stats = await media.endpoint_stats(a)
    assert stats.dropped_wrong_ssrc <= 3  # only the probation packets


async def test_garbage_rtcp_is_counted(media, phones) -> None:
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, rtcp_mux=True))
    phone.send(phone.rtp(bytes(160)), ep.local)
    phone.send(b"\x80\xc8\x00\x06" + bytes(22), ep.local)  # SR, length not a multiple of 4
    phone.send(b"\x80\xc9\x00\x09" + bytes(8), ep.local)  # RR that lies about its length
    await settle()
    stats = await media.endpoint_stats(ep.id)
    assert stats.dropped_bad_rtcp == 2
