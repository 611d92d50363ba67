"""The `MediaServer` interface as call control uses it."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest
import uvloop

from zongji.media import (
    EndpointSpec,
    LocalMediaServer,
    MediaError,
    MediaServer,
    MediaTimeout,
    Silence,
)
from zongji.media.g711 import Codec
from zongji.media.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_compound,
    ntp_middle,
    ntp_now,
    parse_rtcp,
)

from .conftest import new_phone, settle, wait_for_event


def test_local_server_implements_the_protocol() -> None:
    server: MediaServer = LocalMediaServer(port_min=0)
    assert server is not None


def test_everything_crossing_the_interface_is_plain_data() -> None:
    """Specs, events and stats must survive being copied to another process."""
    import pickle

    from zongji.media import api

    for name in api.__all__:
        obj = getattr(api, name)
        if dataclasses.is_dataclass(obj) and isinstance(obj, type):
            fields = {f.name: f.type for f in dataclasses.fields(obj)}
            for t in fields.values():
                assert "Endpoint " not in str(t), (name, t)
                assert "ndarray" not in str(t), (name, t)
    spec = EndpointSpec(codec=Codec.PCMA, remote=("192.0.2.1", 4000))
    assert pickle.loads(pickle.dumps(spec)) == spec


async def test_runs_on_uvloop(media) -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


async def test_endpoint_addresses(media) -> None:
    a = await media.create_endpoint(EndpointSpec())
    assert a.local[0] == "127.0.0.1"
    assert a.local[1] % 2 == 0
    assert a.local_rtcp == ("127.0.0.1", a.local[1] + 1)
    m = await media.create_endpoint(EndpointSpec(rtcp_mux=True))
    assert m.local_rtcp == m.local
    stats = await media.server_stats()
    assert (stats.endpoints, stats.ports_in_use) == (2, 2)
    await media.destroy_endpoint(a.id)
    assert (await media.server_stats()).ports_in_use == 1


async def test_unknown_ids_and_bad_requests_raise_media_error(media) -> None:
    ep = await media.create_endpoint(EndpointSpec(telephone_event_pt=None))
    for call in (
        lambda: media.destroy_endpoint("ep-nope"),
        lambda: media.play("ep-nope", [Silence(10)]),
        lambda: media.record("ep-nope", "/tmp/x.wav"),
        lambda: media.connect(ep.id, ep.id),
        lambda: media.send_dtmf(ep.id, "1", duration_ms=10),  # too short to be heard as a key
        lambda: media.play(ep.id, [Silence(10)], barge_in="x"),
        lambda: media.record(ep.id, "/tmp/x.wav", stop_digits="!"),
        lambda: media.record(ep.id, "/tmp/x.wav", max_seconds=0),
        lambda: media.create_conference(max_members=1),
        lambda: media.update_endpoint(ep.id, EndpointSpec(rtcp_mux=True)),
        lambda: media.create_endpoint(EndpointSpec(telephone_event_pt=0)),  # PCMU's own PT
        lambda: media.create_endpoint(EndpointSpec(telephone_event_pt=200)),
        lambda: media.create_endpoint(EndpointSpec(telephone_event_pt=72, rtcp_mux=True)),
        lambda: media.create_endpoint(EndpointSpec(remote=("127.0.0.1", 0))),
        lambda: media.create_endpoint(EndpointSpec(media_timeout=0)),
    ):
        with pytest.raises(MediaError):
            await call()


async def test_not_started_server_refuses() -> None:
    with pytest.raises(MediaError, match="not started"):
        await LocalMediaServer(port_min=0).create_endpoint(EndpointSpec())


async def test_update_endpoint_follows_a_reinvite(manual, phones) -> None:
    """The answer (or a re-INVITE) moves the peer and changes the codec."""
    media, clock = manual
    first, second = await new_phone(phones), await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=first.addr))
    await media.play(ep.id, [Silence(2000)])
    clock.advance(3)
    await settle()
    await media.update_endpoint(ep.id, EndpointSpec(codec=Codec.PCMA, remote=second.addr))
    clock.advance(3)
    await settle()
    assert [p.payload_type for p in first.packets()] == [0, 0, 0]
    assert [p.payload_type for p in second.packets()] == [8, 8, 8]
    seqs = [p.sequence for p in first.packets() + second.packets()]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))


async def test_media_timeout_reports_a_dead_peer(media, phones) -> None:
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, media_timeout=0.3))
    phone.send(phone.rtp(bytes(160)), ep.local)
    event = await wait_for_event(media, MediaTimeout, within=3.0)
    assert event.endpoint_id == ep.id
    assert event.seconds >= 0.3


async def test_rtcp_reports_loss_and_learns_round_trip(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, rtcp_mux=True))
    # the phone sends 10 packets of which 2 are lost on the way, and a sender report
    for i in range(10):
        packet = phone.rtp(bytes(160))
        if i not in (3, 6):
            phone.send(packet, ep.local)
    sr_ntp = ntp_now()
    phone.send(build_compound([SenderReport(phone.ssrc, sr_ntp, 0, 8, 1280)]), ep.local)
    await media.play(ep.id, [Silence(200)])
    await settle()
    clock.advance(400)  # past the first report interval (2.5–5 s)
    await settle()
    reports = [parse_rtcp(d) for d in phone.rtcp]
    assert reports
    first = reports[0]
    assert isinstance(first[0], SenderReport)  # we had sent media: SR, not RR
    assert isinstance(first[1], SourceDescription)
    assert 1 in first[1].chunks[0][1]
    (block,) = first[0].reports
    assert block.ssrc == phone.ssrc
    assert block.cumulative_lost == 2
    assert block.fraction_lost == 2 * 256 // 10
    assert block.lsr == ntp_middle(sr_ntp)
    # the phone answers with a receiver report about our stream; the engine derives the RTT
    ours = first[0]
    rr = ReceiverReport(
        phone.ssrc,
        [ReportBlock(ours.ssrc, 64, 3, 0, 80, ntp_middle(ours.ntp_timestamp), 0)],
    )
    phone.send(build_compound([rr]), ep.local)
    await settle()
    stats = await media.endpoint_stats(ep.id)
    assert stats.rtcp_received == 2
    assert stats.remote_fraction_lost == 0.25
    assert stats.remote_jitter_ms == 10.0
    assert stats.round_trip_ms is not None
    assert 0 <= stats.round_trip_ms < 5000
    final = await media.destroy_endpoint(ep.id)
    assert final.packets_received == 8
    assert final.packets_lost == 2
    await settle()
    assert isinstance(parse_rtcp(phone.rtcp[-1])[-1], Goodbye)


async def test_rtcp_from_strangers_is_ignored(media, phones) -> None:
    phone, stranger = await new_phone(phones), await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    stranger.send(build_compound([ReceiverReport(1, [])]), ep.local_rtcp)
    phone.send(build_compound([ReceiverReport(2, [])]), ep.local_rtcp)
    await settle()
    stats = await media.endpoint_stats(ep.id)
    # both come from 127.0.0.1: RTCP is checked by address, as RFC 3550 allows a separate port
    assert stats.rtcp_received == 2


async def test_close_saves_recordings_and_frees_everything(phones, tmp_path) -> None:
    media = LocalMediaServer(port_min=0)
    await media.start()
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "r.wav"))
    await asyncio.sleep(0.1)
    await media.close()
    assert (tmp_path / "r.wav").exists()
    assert media.ports.in_use == 0


async def test_disconnect_stops_the_relay(media, phones) -> None:
    from .test_relay import call

    alice, bob, a, _, to_a, _ = await call(media, phones)
    alice.send(alice.rtp(b"\x01" * 160), to_a)
    await settle()
    await media.disconnect(a)
    alice.send(alice.rtp(b"\x02" * 160), to_a)
    await settle()
    assert [p.payload[0] for p in bob.packets()] == [1]


async def test_stop_playback_and_conference_teardown_report_their_reasons(manual, phones) -> None:
    from zongji.media import PlaybackEnd, PlaybackFinished, Prompt

    from .conftest import drain

    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    conf = await media.create_conference()
    await media.add_member(conf, ep.id)
    to_ep = await media.play(ep.id, [Silence(5000)])
    to_conf = await media.play(conf, [Prompt("conference_welcome")])
    clock.advance(2)
    await media.stop_playback(ep.id)
    await media.destroy_conference(conf)
    events = await drain(media)
    assert events == [
        PlaybackFinished(ep.id, to_ep, PlaybackEnd.STOPPED),
        PlaybackFinished(conf, to_conf, PlaybackEnd.TARGET_GONE),
    ]
    assert (await media.server_stats()).conferences == 0


async def test_media_timeout_rearms_when_media_resumes(media, phones) -> None:
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr, media_timeout=0.2))
    phone.send(phone.rtp(bytes(160)), ep.local)
    await wait_for_event(media, MediaTimeout, within=3.0)
    for _ in range(30):  # the peer comes back for a while …
        phone.send(phone.rtp(bytes(160)), ep.local)
        await asyncio.sleep(0.02)
    # … and goes silent again: a second timeout
    event = await wait_for_event(media, MediaTimeout, within=3.0)
    assert event.endpoint_id == ep.id
