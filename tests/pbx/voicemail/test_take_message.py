"""A caller leaves a message: greeting, beep, what they say recorded over real RTP, stored, told.

The caller is a real RTP peer (a second media engine on 127.0.0.1) speaking a 1 kHz tone; each test
checks what a user relies on: the message is in their box, its WAV holds the caller's audio for as
long as they spoke, and everyone who needs to know (MWI, messaging) is told once it is stored.
"""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import numpy as np

from tests.conftest import World
from zongji.media.api import File, Prompt, Tone, ToneKind
from zongji.media.wav import parse_wav, write_wav
from zongji.pbx.contracts import Voicemail
from zongji.pbx.events import VoicemailEvent, VoicemailLeft
from zongji.pbx.voicemail.service import VoicemailService

from .conftest import Office
from .leg import answered_call, level_at, sine


def _check_protocol(service: VoicemailService) -> Voicemail:
    return service  # mypy: the service implements the contract the engine uses


async def _short_greeting(voicemail: VoicemailService, office: Office, tmp_path: Path) -> None:
    path = tmp_path / "greeting.wav"
    write_wav(path, sine(440, 0.6))
    await voicemail.mailbox.set_greeting(office.acme.id, office.alice, path.read_bytes())


async def _wait_for(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_message_holds_what_the_caller_said_for_as_long_as_they_spoke(
    world: World,
    office: Office,
    voicemail: VoicemailService,
    published: list[VoicemailEvent],
    tmp_path: Path,
) -> None:
    _check_protocol(voicemail)
    await _short_greeting(voicemail, office, tmp_path)
    async with answered_call(tmp_path) as (leg, phone):
        task = asyncio.create_task(voicemail.take_message(leg, office.offer(office.alice)))
        await asyncio.wait_for(leg.recording.wait(), 10)
        await phone.say(sine(1000, 3.0))
        await asyncio.sleep(0.1)
        await leg.caller_hangs_up()
        await asyncio.wait_for(task, 10)

    # the caller heard the user's own greeting, then the beep
    (greeting, _), (beep, _) = leg.played[:2]
    assert len(greeting) == 1
    assert isinstance(greeting[0], File)
    assert beep == (Tone(ToneKind.BEEP),)

    box = await voicemail.mailbox.messages(office.acme.id, office.alice)
    assert box.total == 1
    assert box.unheard == 1
    message = box.items[0]
    assert message.caller.number == "+8613900000001"
    assert 2.9 <= message.seconds <= 3.5, message.seconds
    data = await voicemail.mailbox.audio(office.acme.id, office.alice, message.id)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert abs(w.getnframes() / 8000 - message.seconds) < 0.01
    pcm = parse_wav(data)
    voiced = np.flatnonzero(np.abs(pcm) > 2000)
    assert 2.8 <= (voiced[-1] - voiced[0]) / 8000 <= 3.1  # the tone, all of it
    assert level_at(pcm[voiced[0] : voiced[-1]], 1000) > 0.9

    await _wait_for(lambda: any(isinstance(e, VoicemailLeft) for e in published))
    (left,) = [e for e in published if isinstance(e, VoicemailLeft)]
    assert left.tenant_id == office.acme.id
    assert left.box_user_id == office.alice
    assert left.message_id == message.id
    assert left.caller_number == "+8613900000001"
    assert left.seconds == message.seconds
    # the temporary recording is gone: file storage holds the only copy
    assert not list((world.services.settings.data_dir / "voicemail" / "tmp").glob("*.wav"))


async def test_hash_ends_the_message_then_the_caller_hears_it_was_saved(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    await _short_greeting(voicemail, office, tmp_path)
    async with answered_call(tmp_path) as (leg, phone):
        task = asyncio.create_task(voicemail.take_message(leg, office.offer(office.alice)))
        await asyncio.wait_for(leg.recording.wait(), 10)
        await phone.say(sine(700, 2.0))
        await phone.key("#")
        await asyncio.wait_for(task, 15)
    assert leg.played[-1][0] == (Prompt("message_saved"),)
    assert leg.hung_up_by_app  # voicemail ended the call itself
    box = await voicemail.mailbox.messages(office.acme.id, office.alice)
    assert box.total == 1
    assert 1.9 <= box.items[0].seconds <= 2.6, box.items[0].seconds


async def test_silence_ends_the_message_without_keeping_the_silence(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    await _short_greeting(voicemail, office, tmp_path)
    async with answered_call(tmp_path) as (leg, phone):
        task = asyncio.create_task(voicemail.take_message(leg, office.offer(office.alice)))
        await asyncio.wait_for(leg.recording.wait(), 10)
        await phone.say(sine(1000, 1.5))
        await asyncio.wait_for(task, 15)  # 5 s of silence end it
    box = await voicemail.mailbox.messages(office.acme.id, office.alice)
    assert box.total == 1
    assert 1.4 <= box.items[0].seconds <= 2.0, box.items[0].seconds


async def test_hanging_up_at_the_beep_leaves_no_message(
    office: Office, voicemail: VoicemailService, published: list[VoicemailEvent], tmp_path: Path
) -> None:
    await _short_greeting(voicemail, office, tmp_path)
    async with answered_call(tmp_path) as (leg, _phone):
        task = asyncio.create_task(voicemail.take_message(leg, office.offer(office.alice)))
        await asyncio.wait_for(leg.recording.wait(), 10)
        await asyncio.sleep(0.5)
        await leg.caller_hangs_up()
        await asyncio.wait_for(task, 10)
    assert (await voicemail.mailbox.messages(office.acme.id, office.alice)).total == 0
    await asyncio.sleep(0.1)
    assert not [e for e in published if isinstance(e, VoicemailLeft)]


async def test_default_greeting_and_hash_skips_it(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    async with answered_call(tmp_path) as (leg, phone):
        task = asyncio.create_task(voicemail.take_message(leg, office.offer(office.bob)))
        await asyncio.sleep(0.5)
        await phone.key("#")  # skip the platform's greeting, straight to the beep
        await asyncio.wait_for(leg.recording.wait(), 5)
        await leg.caller_hangs_up()
        await asyncio.wait_for(task, 10)
    (greeting, heard), (beep, _) = leg.played[:2]
    assert greeting == (Prompt("voicemail_greeting"),)
    assert heard.reason == "barge_in"
    assert beep == (Tone(ToneKind.BEEP),)


async def test_caller_gone_before_the_greeting_records_nothing(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    async with answered_call(tmp_path) as (leg, _phone):
        await leg.caller_hangs_up()
        await asyncio.wait_for(voicemail.take_message(leg, office.offer(office.alice)), 5)
    assert leg.played == []
    assert (await voicemail.mailbox.messages(office.acme.id, office.alice)).total == 0


async def test_a_disabled_box_takes_no_messages(
    office: Office, voicemail: VoicemailService
) -> None:
    assert await voicemail.accepts(office.acme.id, office.alice)  # on by default
    await voicemail.mailbox.set_enabled(office.acme.id, office.alice, False)
    assert not await voicemail.accepts(office.acme.id, office.alice)
    assert await voicemail.accepts(office.acme.id, office.bob)
    assert await voicemail.accepts(office.other.id, office.carol)


async def test_messages_stay_in_their_box_and_enterprise(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    path = tmp_path / "m.wav"
    write_wav(path, sine(500, 1.5))
    from zongji.pbx.contracts import Party

    left = await voicemail.mailbox.leave(
        office.acme.id,
        office.alice,
        caller=Party("8002", office.bob, "李四"),
        call_id="c1",
        received_at=office.offer(office.alice).at,
        seconds=1.5,
        wav=path.read_bytes(),
    )
    assert (await voicemail.mailbox.messages(office.acme.id, office.bob)).total == 0
    assert (await voicemail.mailbox.messages(office.other.id, office.carol)).total == 0
    # the same user id asked under another enterprise finds nothing
    assert (await voicemail.mailbox.messages(office.other.id, office.alice)).total == 0
    assert (await voicemail.mailbox.counts(office.acme.id, office.alice)).new == 1
    box = await voicemail.mailbox.messages(office.acme.id, office.alice)
    assert box.items[0].id == left.id
    assert box.items[0].caller.user_id == office.bob


async def test_record_greeting_by_phone(
    office: Office, voicemail: VoicemailService, tmp_path: Path
) -> None:
    async with answered_call(tmp_path) as (leg, phone):
        task = asyncio.create_task(voicemail.record_greeting(leg, office.acme.id, office.alice))
        await asyncio.wait_for(leg.recording.wait(), 5)
        await phone.say(sine(600, 2.0))
        await phone.key("#")
        await asyncio.wait_for(task, 15)
    settings = await voicemail.mailbox.settings_out(office.acme.id, office.alice)
    assert settings.greeting
    assert settings.greeting_seconds is not None
    assert 1.9 <= settings.greeting_seconds <= 2.6
    # played back to the user, then the call ends
    assert isinstance(leg.played[-1][0][0], File)
    assert leg.hung_up_by_app
    pcm = parse_wav(await voicemail.mailbox.greeting_audio(office.acme.id, office.alice))
    assert level_at(pcm, 600) > 0.8
