"""The `Voicemail` the call engine uses: does a box take messages, take one, record a greeting.

`take_message` runs on a leg the engine answered after the callee did not (no answer in time, or
declined to voicemail): the user's greeting (or the platform's), a beep, then up to 120 s of the
caller, ended by `#`, 5 s of silence, or hanging up — a message left by hanging up is kept, as
callers expect. Recordings under a second are taken for a caller who gave up at the beep and
discarded. The recording goes to a temporary file under `data_dir` (the media engine writes files,
and may one day run elsewhere with a shared disk), then into file storage and a message row;
MWI subscribers and the messaging work hear of it through the `VoicemailLeft` event.

`record_greeting` is what the greeting feature code (`*97`, wired by the call engine) runs: the
user hears a beep, speaks up to 60 s, presses `#`; the recording becomes their greeting and is
played back to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path

from zongji.media import File, Pcm, Prompt, Tone, ToneKind, WavError, load_wav
from zongji.pbx.contracts import AnsweredLeg, Device, VoicemailOffer
from zongji.pbx.events import VOICEMAIL_EVENTS
from zongji.pbx.voicemail.audio import GREETING_MAX_SECONDS, seconds_of, wav_bytes
from zongji.pbx.voicemail.mailbox import Mailbox
from zongji.pbx.voicemail.mwi import MwiNotifier
from zongji.platform.clock import Clock
from zongji.platform.db import Database
from zongji.platform.events import EventBus
from zongji.platform.files import FileStorage
from zongji.platform.ids import uuid7
from zongji.sip import IncomingRequest

log = logging.getLogger(__name__)

MAX_MESSAGE_SECONDS = 120
SILENCE_SECONDS = 5
MIN_MESSAGE_SECONDS = 1.0
FILE_WAIT_SECONDS = 5.0
"""How long to wait for the media engine's file after a recording ended by hang-up."""


class VoicemailService:
    def __init__(self, mailbox: Mailbox, mwi: MwiNotifier, work_dir: Path) -> None:
        self.mailbox = mailbox
        self.mwi = mwi
        self._work = work_dir  # data_dir/voicemail: temporary recordings, cached greetings

    # -- the Voicemail contract ----------------------------------------------------------------

    async def accepts(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return (await self.mailbox.settings(tenant_id, user_id)).enabled

    async def take_message(self, leg: AnsweredLeg, offer: VoicemailOffer) -> None:
        tenant_id, user_id = offer.tenant_id, offer.box_user_id
        greeting = await self._greeting_file(tenant_id, user_id)
        intro = [File(str(greeting))] if greeting else [Prompt("voicemail_greeting")]
        if leg.hung_up.is_set():
            return
        await leg.play(intro, barge_in="#")  # `#` skips the greeting, straight to the beep
        if leg.hung_up.is_set():
            return
        await leg.play([Tone(ToneKind.BEEP)])
        if leg.hung_up.is_set():
            return
        recorded = await self._record(leg, MAX_MESSAGE_SECONDS, SILENCE_SECONDS)
        if recorded is None:
            log.info("voicemail for %s: nothing left by %s", user_id, offer.caller.number)
            await self._goodbye(leg, None)
            return
        wav, seconds = recorded
        try:
            await self.mailbox.leave(
                tenant_id,
                user_id,
                caller=offer.caller,
                call_id=offer.call_id,
                received_at=offer.at,
                seconds=seconds,
                wav=wav,
            )
        except Exception:
            # storage failed (nothing half-written: `leave` removes its file); the caller must
            # not hear "saved", and the engine still gets its leg back to close the call
            log.exception("voicemail for %s could not be stored", user_id)
            await self._goodbye(leg, None)
            return
        await self._goodbye(leg, Prompt("message_saved"))

    async def subscribe(self, incoming: IncomingRequest, device: Device) -> None:
        await self.mwi.subscribe(incoming, device)

    # -- greeting by phone -----------------------------------------------------------------------

    async def record_greeting(
        self, leg: AnsweredLeg, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """Beep, record up to 60 s (`#` ends), store it as the user's greeting, play it back."""
        if leg.hung_up.is_set():
            return
        await leg.play([Tone(ToneKind.BEEP)])
        if leg.hung_up.is_set():
            return
        recorded = await self._record(leg, int(GREETING_MAX_SECONDS), SILENCE_SECONDS)
        if recorded is None:
            await self._goodbye(leg, None)
            return
        wav, seconds = recorded
        await self.mailbox.store_greeting(tenant_id, user_id, wav, seconds)
        greeting = await self._greeting_file(tenant_id, user_id)
        await self._goodbye(leg, File(str(greeting)) if greeting else None)

    # -- helpers ---------------------------------------------------------------------------------

    async def _record(
        self, leg: AnsweredLeg, max_seconds: int, silence_seconds: int
    ) -> tuple[bytes, float] | None:
        """Record the caller; the WAV (8 kHz mono) and its length, or None if under a second."""
        tmp = self._work / "tmp" / f"{uuid7().hex}.wav"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = await leg.record(
                str(tmp), max_seconds=max_seconds, silence_seconds=silence_seconds, stop_digits="#"
            )
            path = Path(result.path) if result.path else tmp
            pcm = await _load_when_written(path, FILE_WAIT_SECONDS)
            if pcm is None:
                log.warning("recording %s unusable or missing (%s)", path, result.reason)
                return None
            seconds = seconds_of(pcm)
            if seconds < MIN_MESSAGE_SECONDS:
                return None
            return wav_bytes(pcm), seconds
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    async def _greeting_file(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Path | None:
        """The user's greeting as a local file the media engine can play (cached by key: keys
        are never reused, a new greeting gets a new one), or None for the default."""
        key = (await self.mailbox.settings(tenant_id, user_id)).greeting
        if key is None:
            return None
        path = self._work / "greetings" / key.replace("/", "_")
        if path.exists():
            return path
        try:
            data = await self.mailbox.greeting_audio(tenant_id, user_id)
        except Exception:
            log.warning("greeting %s missing from file storage; default greeting used", key)
            return None
        await asyncio.to_thread(_cache_greeting, path, data)
        return path

    @staticmethod
    async def _goodbye(leg: AnsweredLeg, item: Prompt | File | None) -> None:
        if leg.hung_up.is_set():
            return
        if item is not None:
            await leg.play([item])
        if not leg.hung_up.is_set():
            await leg.hangup()


async def _load_when_written(path: Path, within: float) -> Pcm | None:
    """The media engine's recording, once it is whole. The engine writes the file in a worker
    thread when the recording ends, which after a hang-up may be a moment after the leg told us;
    a file still being written fails to parse or is still growing, so wait for a stable one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_size = -1
    while True:
        size = _size(path)
        if size > 0 and size == last_size:
            try:
                return await asyncio.to_thread(load_wav, path)
            except WavError:
                pass
        if loop.time() >= deadline:
            return None
        last_size = size
        await asyncio.sleep(0.05)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _cache_greeting(path: Path, data: bytes) -> None:
    """Write the cached copy atomically, and drop the user's older ones (same key prefix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid7().hex}")
    tmp.write_bytes(data)
    tmp.replace(path)
    prefix = path.name.rsplit("greeting-", 1)[0]
    for old in path.parent.glob(f"{prefix}greeting-*.wav"):
        if old != path:
            old.unlink(missing_ok=True)


def build_voicemail(
    db: Database, bus: EventBus, files: FileStorage, clock: Clock, data_dir: Path
) -> VoicemailService:
    """The node's voicemail, its MWI notifier listening to the mailbox's events."""
    mailbox = Mailbox(db, bus, files, clock)
    mwi = MwiNotifier(mailbox.counts)
    bus.subscribe(VOICEMAIL_EVENTS, mwi.on_event)
    return VoicemailService(mailbox, mwi, data_dir / "voicemail")
