"""Recording a caller (voicemail): maximum length, stop on silence, stop on a key, hang-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from zongji.media import EndpointSpec, RecordingEnd, RecordingFinished
from zongji.media.g711 import Codec, decode, encode
from zongji.media.recorder import Recorder
from zongji.media.wav import load_wav

from .conftest import Phone, new_phone, sine, wait_for_event


async def talk(phone: Phone, to, clock, pcm: np.ndarray, codec: Codec = Codec.PCMU) -> None:
    """Send audio one frame per manual clock tick, as a phone and the clock would in real time."""
    for at in range(0, len(pcm) - 159, 160):
        phone.send(phone.rtp(encode(codec, pcm[at : at + 160]), codec.payload_type), to)
        await asyncio.sleep(0.002)
        clock.advance(1)


async def quiet(clock, ticks: int) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)
        clock.advance(1)


def test_recorder_unit_limits() -> None:
    r = Recorder("/nonexistent/x.wav", max_seconds=0.1, silence_seconds=None)
    ends = [r.feed(np.full(160, 1000, np.int16)) for _ in range(5)]
    assert ends == [None, None, None, None, RecordingEnd.MAX_LENGTH]
    r = Recorder("/nonexistent/x.wav", silence_seconds=0.1)
    ends = [r.feed(None) for _ in range(5)]
    assert ends[-1] is RecordingEnd.SILENCE


async def test_max_length(manual, phones, tmp_path: Path) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    path = tmp_path / "vm" / "msg.wav"
    rec = await media.record(ep.id, str(path), max_seconds=1.0, silence_seconds=None)
    tone = sine(440, 2.0)
    await talk(phone, ep.local, clock, tone)
    done = await wait_for_event(media, RecordingFinished)
    assert (done.recording_id, done.reason, done.path) == (rec, RecordingEnd.MAX_LENGTH, str(path))
    assert done.seconds == pytest.approx(1.0)
    audio = load_wav(path)
    assert len(audio) == 8000
    # the recording is the caller's audio, sample for sample, after the jitter buffer's delay
    sent = decode(Codec.PCMU, encode(Codec.PCMU, tone))
    start = int(np.flatnonzero(audio)[0]) // 160 * 160  # whole frames of silence before it
    assert start <= 3 * 160
    assert np.array_equal(audio[start:], sent[: 8000 - start])


async def test_stops_after_silence_and_trims_it(manual, phones, tmp_path: Path) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "m.wav"), silence_seconds=1.0)
    await talk(phone, ep.local, clock, sine(300, 1.5))
    await talk(phone, ep.local, clock, np.zeros(8000 * 2, dtype=np.int16))
    done = await wait_for_event(media, RecordingFinished)
    assert done.reason is RecordingEnd.SILENCE
    assert 1.5 <= done.seconds <= 1.8  # the voice and 0.2 s after it, not the second of silence


async def test_stops_on_hash_key(manual, phones, tmp_path: Path) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "m.wav"), stop_digits="#")
    await talk(phone, ep.local, clock, sine(300, 0.5))
    phone.send(phone.rtp(bytes([11, 0x0A, 0, 160]), pt=101, marker=True), ep.local)
    done = await wait_for_event(media, RecordingFinished)
    assert (done.reason, done.digit) == (RecordingEnd.DIGIT, "#")


async def test_hang_up_keeps_the_message(manual, phones, tmp_path: Path) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "m.wav"))
    await talk(phone, ep.local, clock, sine(300, 0.6))
    await media.destroy_endpoint(ep.id)
    done = await wait_for_event(media, RecordingFinished)
    assert done.reason is RecordingEnd.ENDPOINT_GONE
    assert done.seconds == pytest.approx(0.6, abs=0.021)
    assert len(load_wav(tmp_path / "m.wav")) == round(done.seconds * 8000)


async def test_statistics_survive_the_end_of_a_recording(manual, phones, tmp_path: Path) -> None:
    """The jitter buffer goes when the recording ends; what it counted must not."""
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.record(ep.id, str(tmp_path / "m.wav"))
    frames = [phone.rtp(bytes(160)) for _ in range(6)]
    for i in (0, 1, 2, 4, 5):  # 3 is lost
        phone.send(frames[i], ep.local)
        await asyncio.sleep(0.002)
        clock.advance(1)
    phone.send(frames[1], ep.local)  # a duplicate, long played
    await asyncio.sleep(0.01)
    clock.advance(3)
    during = await media.endpoint_stats(ep.id)
    await media.stop_recording(ep.id)
    await wait_for_event(media, RecordingFinished)
    after = await media.endpoint_stats(ep.id)
    assert during.concealed_frames >= 1
    assert during.dropped_late == 1
    assert (after.concealed_frames, after.dropped_late) == (
        during.concealed_frames,
        during.dropped_late,
    )
