"""SIPp's g711a.pcap replayed into the engine: the audio arrives, decoded, sample for sample."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from zongji.media import EndpointSpec, RecordingFinished
from zongji.media.g711 import Codec, decode
from zongji.media.jitter import MAX_CONCEALED
from zongji.media.rtp import parse_rtp
from zongji.media.wav import load_wav

from .conftest import new_phone, wait_for_event
from .pcap import read_udp

CAPTURE = Path("/usr/share/sip-tester/g711a.pcap")


async def test_g711a_capture_is_recorded_exactly(manual, phones, tmp_path: Path) -> None:
    media, clock = manual
    datagrams = read_udp(CAPTURE)
    packets = [parse_rtp(d.payload) for d in datagrams]
    assert len(packets) == 236
    assert {p.payload_type for p in packets} == {8}
    assert {len(p.payload) for p in packets} == {240}  # 30 ms packets
    expected = decode(Codec.PCMA, b"".join(p.payload for p in packets))
    assert np.sqrt(np.mean(expected.astype(float) ** 2)) > 1000  # there is sound in it

    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(codec=Codec.PCMA, remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "pcap.wav"), silence_seconds=None)
    start = datagrams[0].time
    for d in datagrams:
        # advance the clock to the capture's own time, then deliver the packet
        due = int((d.time - start) / 0.020)
        while clock.tick < due:
            clock.advance(1)
        phone.send(d.payload, ep.local)
        await asyncio.sleep(0.002)
    clock.advance(10)
    await media.stop_recording(ep.id)
    done = await wait_for_event(media, RecordingFinished)
    recorded = load_wav(done.path)
    stats = await media.endpoint_stats(ep.id)
    assert stats.packets_received == 236
    assert stats.dropped == 0
    # the stream's end is concealed (then silence) while the clock runs on; nothing before it,
    # which the sample-exact comparison below also proves
    assert stats.concealed_frames <= MAX_CONCEALED
    # the capture's audio appears whole in the recording, after the jitter buffer's delay
    lead = int(np.flatnonzero(recorded)[0]) // 160 * 160
    assert lead < 10 * 160
    assert np.array_equal(recorded[lead : lead + len(expected)], expected[: len(recorded) - lead])
    assert len(recorded) - lead >= len(expected)
