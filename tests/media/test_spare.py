"""Ended endpoints' open ports taken over by the next endpoints (`media/spare.py`)."""

from __future__ import annotations

import resource

from zongji.media import EndpointSpec, LocalMediaServer
from zongji.media.rtp import parse_rtp
from zongji.media.spare import SPARE_MAX, SparePorts, spare_limit

from .conftest import Phone, new_phone, settle


async def test_a_port_is_reused_only_after_its_quarantine(phones: list[Phone]) -> None:
    async with LocalMediaServer(port_min=0, spare_quarantine=0.2) as media:
        first = await media.create_endpoint(EndpointSpec())
        await media.destroy_endpoint(first.id)
        assert (await media.server_stats()).ports_in_use == 0  # parked: free for the next one
        early = await media.create_endpoint(EndpointSpec())
        assert early.local != first.local  # still in quarantine: a new port
        await settle(0.25)
        later = await media.create_endpoint(EndpointSpec())
        assert (later.local, later.local_rtcp) == (first.local, first.local_rtcp)
        muxed = await media.create_endpoint(EndpointSpec(rtcp_mux=True))
        assert muxed.local != first.local  # a parked pair serves only endpoints with RTCP apart


async def test_a_reused_port_carries_the_new_call_and_drops_the_old_ones_late_packets(
    phones: list[Phone],
) -> None:
    async with LocalMediaServer(port_min=0, spare_quarantine=0.1) as media:
        old_peer, alice, bob = [await new_phone(phones) for _ in range(3)]
        old = await media.create_endpoint(EndpointSpec(remote=old_peer.addr))
        await media.destroy_endpoint(old.id)
        old_peer.send(old_peer.rtp(b"\x01" * 160), old.local)  # late, after the end
        await settle(0.15)
        a = await media.create_endpoint(EndpointSpec(remote=alice.addr))
        b = await media.create_endpoint(EndpointSpec(remote=bob.addr))
        assert old.local in (a.local, b.local)
        await media.connect(a.id, b.id)
        alice.send(alice.rtp(b"\x02" * 160), a.local)
        bob.send(bob.rtp(b"\x03" * 160), b.local)
        await settle()
        assert [p.payload for p in bob.packets()] == [b"\x02" * 160]
        assert [p.payload for p in alice.packets()] == [b"\x03" * 160]
        assert not old_peer.received
        stats = await media.endpoint_stats(a.id if a.local == old.local else b.id)
        assert stats.packets_received == 1  # the old call's packet never reached it
        assert parse_rtp(bob.received[0][1]).ssrc != parse_rtp(alice.received[0][1]).ssrc


async def test_closing_the_server_closes_the_parked_ports(phones: list[Phone]) -> None:
    media = LocalMediaServer(port_min=0, spare_quarantine=0.0)
    await media.start()
    for _ in range(3):
        ep = await media.create_endpoint(EndpointSpec())
        await media.destroy_endpoint(ep.id)
    assert len(media.spares) == 1  # each new endpoint took the one parked before
    await media.close()
    assert len(media.spares) == 0
    assert media.ports.in_use == 0


async def test_a_full_range_gives_back_the_parked_ports(phones: list[Phone]) -> None:
    # two RTP/RTCP pairs fit in 40100-40103; one is parked, in quarantine
    async with LocalMediaServer(port_min=40100, port_max=40103, spare_quarantine=60) as media:
        a = await media.create_endpoint(EndpointSpec())
        b = await media.create_endpoint(EndpointSpec())
        await media.destroy_endpoint(a.id)
        c = await media.create_endpoint(EndpointSpec())  # no free port: the parked one is closed
        assert c.local == a.local
        assert len(media.spares) == 0
        await media.destroy_endpoint(b.id)


async def test_parked_ports_are_bounded_and_the_ones_beyond_are_closed(
    phones: list[Phone],
) -> None:
    async with LocalMediaServer(port_min=0) as media:
        media.spares = SparePorts(quarantine=60, limit=1)
        a = await media.create_endpoint(EndpointSpec())
        b = await media.create_endpoint(EndpointSpec())
        await media.destroy_endpoint(a.id)
        await media.destroy_endpoint(b.id)
        assert len(media.spares) == 1
        assert media.ports.in_use == 1  # b's port was closed and given back


def test_the_limit_leaves_room_under_the_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        assert spare_limit() == 128
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert spare_limit() <= SPARE_MAX
