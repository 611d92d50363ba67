"""Playing prompts, tones and silence to a caller; barge-in on a key."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from zongji.media import (
    Digits,
    DtmfReceived,
    EndpointSpec,
    File,
    MediaError,
    PlaybackEnd,
    PlaybackFinished,
    Prompt,
    Silence,
    Tone,
    ToneKind,
)
from zongji.media.g711 import Codec, decode, encode
from zongji.media.player import Player
from zongji.media.prompts.store import PromptStore
from zongji.media.tones import render_tone

from .conftest import drain, new_phone, settle


def test_player_walks_segments_across_frame_boundaries() -> None:
    a = np.arange(1, 251, dtype=np.int16)
    b = np.arange(1000, 1050, dtype=np.int16)
    p = Player([a, b])
    frames = [p.next_frame() for _ in range(3)]
    assert frames[2] is None
    out = np.concatenate([f for f in frames if f is not None])
    assert np.array_equal(out[:300], np.concatenate([a, b]))
    assert not out[300:].any()  # the last frame is padded with silence


def test_player_loops() -> None:
    p = Player([np.arange(100, dtype=np.int16)], loop=True)
    out = np.concatenate([p.next_frame() for _ in range(5)])  # type: ignore[misc]
    assert np.array_equal(out, np.tile(np.arange(100), 8).astype(np.int16))
    assert not p.done


async def test_prompt_reaches_the_caller_sample_exact(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(codec=Codec.PCMA, remote=phone.addr))
    await media.play(ep.id, [Prompt("welcome", "zh-CN"), Silence(200), Tone(ToneKind.BEEP)])
    prompt = PromptStore().prompt("welcome", "zh-CN")
    expected = np.concatenate([prompt, np.zeros(1600, np.int16), render_tone(ToneKind.BEEP)])
    ticks = -(-len(expected) // 160)
    clock.advance(ticks + 2)
    await settle()
    packets = phone.packets()
    assert len(packets) == ticks
    assert all(p.payload_type == 8 for p in packets)
    assert packets[0].marker
    assert not any(p.marker for p in packets[1:])
    stamps = [p.timestamp for p in packets]
    assert all((b - a) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(stamps))
    heard = phone.audio(Codec.PCMA)[: len(expected)]
    assert np.array_equal(heard, decode(Codec.PCMA, encode(Codec.PCMA, expected)))
    events = await drain(media)
    assert [type(e) for e in events] == [PlaybackFinished]
    assert events[0].reason is PlaybackEnd.COMPLETED


async def test_barge_in_stops_the_prompt_on_a_key(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    play_id = await media.play(ep.id, [Prompt("dial_extension")], barge_in="0123456789")
    clock.advance(10)
    phone.send(phone.rtp(bytes([8, 0x0A, 0, 160]), pt=101, marker=True), ep.local)
    await settle()
    clock.advance(10)
    await settle()
    events = await drain(media)
    assert events == [
        DtmfReceived(ep.id, "8", events[0].method),
        PlaybackFinished(ep.id, play_id, PlaybackEnd.BARGE_IN, "8"),
    ]
    assert len(phone.received) == 10  # nothing more was played after the key


async def test_key_outside_barge_in_set_does_not_stop(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.play(ep.id, [Silence(1000)], barge_in="#")
    phone.send(phone.rtp(bytes([1, 0x0A, 0, 160]), pt=101, marker=True), ep.local)
    await settle()
    clock.advance(5)
    assert [type(e) for e in await drain(media)] == [DtmfReceived]


async def test_verification_code_is_read_digit_by_digit(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    await media.play(ep.id, [Prompt("verification_code_is", "en"), Digits("4815", "en")])
    store = PromptStore()
    total = len(store.prompt("verification_code_is", "en")) + sum(
        len(store.prompt(f"digit_{d}", "en")) + 150 * 8 for d in "4815"
    )
    clock.advance(total // 160 + 3)
    await settle()
    assert len(phone.received) == -(-total // 160)


async def test_new_play_replaces_the_old_one(manual, phones) -> None:
    media, clock = manual
    phone = await new_phone(phones)
    ep = await media.create_endpoint(EndpointSpec(remote=phone.addr))
    first = await media.play(ep.id, [Tone(ToneKind.RINGBACK)], loop=True)
    clock.advance(3)
    second = await media.play(ep.id, [Silence(40)])
    clock.advance(3)
    events = await drain(media)
    assert events == [
        PlaybackFinished(ep.id, first, PlaybackEnd.REPLACED),
        PlaybackFinished(ep.id, second, PlaybackEnd.COMPLETED),
    ]


async def test_corrupt_or_unknown_prompt_fails_the_request(manual, tmp_path) -> None:
    media, _ = manual
    ep = await media.create_endpoint(EndpointSpec(remote=("127.0.0.1", 9)))
    bad = tmp_path / "greeting.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt \x02\x00\x00\x00ab")
    with pytest.raises(MediaError, match=r"greeting\.wav"):
        await media.play(ep.id, [File(str(bad))])
    with pytest.raises(MediaError, match="unknown prompt"):
        await media.play(ep.id, [Prompt("no_such_prompt")])
    with pytest.raises(MediaError, match="no prompts in language"):
        await media.play(ep.id, [Prompt("welcome", "fr")])
    assert await drain(media) == []
