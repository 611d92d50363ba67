"""Conferences: everyone hears everyone but themselves; mute, deaf, who is speaking."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from zongji.media import (
    ActiveSpeakerChanged,
    EndpointSpec,
    MediaError,
    PlaybackFinished,
    Prompt,
    SpeakingChanged,
)
from zongji.media.g711 import Codec
from zongji.media.mixer import ConferenceFull, ConferenceMixer

from .conftest import Phone, drain, new_phone, settle, sine, spectrum_peaks

FREQS = (350.0, 620.0, 1040.0, 1570.0)
CODECS = (Codec.PCMU, Codec.PCMA, Codec.PCMU, Codec.PCMA)


async def conference(media, phones, n=4):
    conf = await media.create_conference()
    members = []
    for i in range(n):
        phone = await new_phone(phones)
        ep = await media.create_endpoint(EndpointSpec(codec=CODECS[i], remote=phone.addr))
        await media.add_member(conf, ep.id)
        members.append((phone, ep))
    return conf, members


async def everyone_talks(members, seconds=1.0) -> None:
    for phone, _ in members:
        phone.received.clear()
    await asyncio.gather(
        *(
            phone.stream(ep.local, sine(FREQS[i], seconds), CODECS[i])
            for i, (phone, ep) in enumerate(members)
        )
    )
    await settle(0.1)


def heard(phone: Phone, codec: Codec) -> dict[float, float]:
    audio = phone.audio(codec)
    steady = audio[len(audio) // 3 :]  # past the jitter buffer's start
    return spectrum_peaks(steady, FREQS)


async def test_each_hears_everyone_else_and_not_themselves(media, phones) -> None:
    _conf, members = await conference(media, phones)
    await everyone_talks(members)
    for i, (phone, _ep) in enumerate(members):
        peaks = heard(phone, CODECS[i])
        for j, f in enumerate(FREQS):
            if j == i:
                assert peaks[f] < -40, (i, peaks)  # own voice removed
            else:
                assert peaks[f] > -6, (i, peaks)  # the others, at about equal level
    # the mixer names the contributing sources in the CSRC list (RFC 3550 §7.1)
    first_phone, _first_ep = members[0]
    others = {p.ssrc for p, _ in members[1:]}
    late = [p for p in first_phone.packets()][-10:]
    assert all(set(p.csrcs) == others for p in late)


async def test_mute_removes_a_tone_for_everyone_else(media, phones) -> None:
    conf, members = await conference(media, phones)
    await media.set_member(conf, members[1][1].id, muted=True)
    await everyone_talks(members)
    for i, (phone, _) in enumerate(members):
        peaks = heard(phone, CODECS[i])
        assert peaks[FREQS[1]] < -40, (i, peaks)  # nobody hears the muted member
        if i == 1:
            assert all(peaks[f] > -6 for f in (FREQS[0], FREQS[2], FREQS[3]))  # they still hear


async def test_deaf_member_hears_nothing_but_is_heard(media, phones) -> None:
    conf, members = await conference(media, phones, n=3)
    await media.set_member(conf, members[0][1].id, deaf=True)
    await everyone_talks(members, 0.6)
    deaf_audio = members[0][0].audio(CODECS[0])
    assert len(deaf_audio) > 0
    assert not deaf_audio.any()
    assert heard(members[1][0], CODECS[1])[FREQS[0]] > -6


async def test_speaking_events(media, phones) -> None:
    conf, members = await conference(media, phones, n=3)
    phone, ep = members[2]
    await phone.stream(ep.local, sine(500, 0.5), CODECS[2])
    await asyncio.sleep(0.8)  # the hangover ends the talk spurt
    events = [e for e in await drain(media) if not isinstance(e, PlaybackFinished)]
    assert events == [
        SpeakingChanged(conf, ep.id, True),
        ActiveSpeakerChanged(conf, ep.id),
        SpeakingChanged(conf, ep.id, False),
        ActiveSpeakerChanged(conf, None),
    ]


async def test_announcement_to_the_whole_conference(media, phones) -> None:
    conf, members = await conference(media, phones, n=2)
    await media.play(conf, [Prompt("conference_participant_joined", "en")])
    await asyncio.sleep(0.5)
    for i, (phone, _) in enumerate(members):
        assert np.abs(phone.audio(CODECS[i]).astype(int)).max() > 3000


async def test_membership_rules(media, phones) -> None:
    conf = await media.create_conference(max_members=2)
    eps = [await media.create_endpoint(EndpointSpec()) for _ in range(3)]
    await media.add_member(conf, eps[0].id)
    await media.add_member(conf, eps[1].id)
    with pytest.raises(MediaError, match="at most 2"):
        await media.add_member(conf, eps[2].id)
    other = await media.create_conference()
    with pytest.raises(MediaError, match="another conference"):
        await media.add_member(other, eps[0].id)
    with pytest.raises(MediaError, match="in a conference"):
        await media.connect(eps[0].id, eps[2].id)
    await media.remove_member(conf, eps[0].id)
    with pytest.raises(MediaError, match="not in conference"):
        await media.remove_member(conf, eps[0].id)
    await media.destroy_conference(conf)
    with pytest.raises(MediaError, match="no conference"):
        await media.add_member(conf, eps[2].id)


# --- the mixing arithmetic itself -------------------------------------------------------------


def frames(*values: int) -> list[np.ndarray]:
    return [np.full(160, v, dtype=np.int16) for v in values]


def test_minus_self_exactly() -> None:
    m = ConferenceMixer()
    for name in "abc":
        m.add(name)
    out = m.mix(frames(100, 20, 3)).out
    assert [int(row[0]) for row in out] == [23, 103, 120]


def test_summing_saturates_instead_of_wrapping() -> None:
    m = ConferenceMixer()
    for name in "abc":
        m.add(name)
    out = m.mix(frames(30000, 30000, -5)).out
    assert int(out[2][0]) == 32767  # 60000 clipped, not wrapped to a negative value
    assert int(out[0][0]) == 29995


def test_hundred_members_each_minus_self() -> None:
    m = ConferenceMixer()
    for i in range(100):
        m.add(f"m{i}")
    with pytest.raises(ConferenceFull):
        m.add("one too many")
    rng = np.random.default_rng(0)
    x = rng.integers(-300, 300, size=(100, 160)).astype(np.int16)
    out = m.mix(list(x)).out
    expected = np.clip(x.astype(np.int32).sum(axis=0) - x.astype(np.int32), -32768, 32767)
    assert np.array_equal(out, expected)


def test_active_speaker_follows_the_loudest_without_flicker() -> None:
    m = ConferenceMixer(switch_frames=5)
    for name in "abc":
        m.add(name)
    actives = []
    for tick in range(40):
        loud_b = tick >= 10
        result = m.mix(frames(3000, 9000 if loud_b else 1000, 0))
        actives.append(result.active)
    assert actives[2] == "a"
    assert actives[-1] == "b"
    switches = [i for i in range(1, 40) if actives[i] != actives[i - 1]]
    assert len(switches) == 2  # None → a, then a → b once
