"""A conversation: the participants of a call and how their audio meets.

A call is a conversation of participants (`participants.py`): SIP legs to devices and trunks, and
applications. The conversation decides how the legs' media endpoints are joined in the media
engine, from who takes part, and re-decides whenever a participant is added, removed or moved to
another conversation:

- **an application** takes part: no relay; the application plays to and listens at each leg's
  own endpoint (the main-number menu, voicemail, an announcement);
- **two legs**: a relay (`MediaServer.connect`), both ways, transcoding PCMU/PCMA and passing
  RFC 4733 digits; hold and unhold on one side is reflected to the other with a re-INVITE;
- **three or more legs**: a mix, through a conference of the media engine (each hears the others);
- **one leg**: nothing to join (a caller hearing ringback, or waiting to be joined).

Once started (`start`, `wait_end`), a leg's media timeout or the PBX (`end`: talk-time limit,
shutdown) ends the conversation, and so does a leg hanging up while two remain; in a mix a leg
that hangs up just leaves, and the rest go on (two left: a relay again). `dissolve` undoes the
media joins and sends BYE to every leg still up. Moving a leg elsewhere (`move`) is what transfer
and conferences need: its dialog and endpoint stay, only what it is joined to changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Sequence
from typing import Any

from zongji.media import MediaError, MediaServer
from zongji.pbx.calls.flags import Flag, watch
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.participants import ApplicationParticipant, Participant
from zongji.sip import Direction

log = logging.getLogger(__name__)


class ConversationMode(enum.StrEnum):
    EMPTY = "empty"
    ALONE = "alone"  # one leg, nobody to join it to
    APPLICATION = "application"  # an application talks to the legs
    RELAY = "relay"  # two legs, connected to each other
    MIX = "mix"  # three or more legs, in a conference


class Conversation:
    def __init__(self, media: MediaServer, *, name: str = "", max_members: int = 100) -> None:
        self.media = media
        self.name = name
        self.max_members = max_members
        self._participants: list[Participant] = []
        self._relayed: tuple[str, str] | None = None
        self._conference: str | None = None
        self._members: set[str] = set()
        self._changed = Flag()
        self._system_end = Flag()
        self._system_reason = ""
        self._running = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    # --- who takes part ------------------------------------------------------------------

    @property
    def participants(self) -> tuple[Participant, ...]:
        return tuple(self._participants)

    @property
    def legs(self) -> list[CallLeg]:
        return [p for p in self._participants if isinstance(p, CallLeg)]

    @property
    def mode(self) -> ConversationMode:
        return _mode_of(self._participants)

    @property
    def conference_id(self) -> str | None:
        """The media engine's conference while the conversation mixes."""
        return self._conference

    async def add(self, participant: Participant) -> None:
        """Join `participant`; the media is re-joined for the new set (idempotent)."""
        if participant in self._participants:
            return
        self._participants.append(participant)
        if self._running:
            self._watch(participant)
        await self._relayout()
        self._changed.set()

    async def remove(self, participant: Participant) -> None:
        """Let `participant` leave (its dialog and endpoint stay: it may join another)."""
        if participant not in self._participants:
            return
        self._participants.remove(participant)
        _unwatch(participant)
        await self._relayout()
        self._changed.set()

    async def move(self, participant: Participant, to: Conversation) -> None:
        """Take `participant` out of this conversation and into `to`."""
        await self.remove(participant)
        await to.add(participant)

    # --- the end -------------------------------------------------------------------------

    def end(self, reason: str) -> None:
        """The PBX ends the conversation (limit reached, media gone, shutdown)."""
        if not self._system_end.is_set():
            self._system_reason = reason
            self._system_end.set()

    @property
    def system_reason(self) -> str:
        return self._system_reason

    def start(self) -> None:
        """From now on hold is reflected and a leg's media timeout ends the conversation (not
        before: a caller hearing early media or a menu sends nothing, and that is fine)."""
        if not self._running:
            self._running = True
            for participant in self._participants:
                self._watch(participant)

    async def wait_end(self) -> Participant | None:
        """Run until it ends: returns the participant who hung up, or None when the PBX ended
        it. In a mix, a participant who hangs up leaves and the others go on."""
        self.start()
        try:
            while True:
                gone = next((p for p in self._participants if p.hung_up.is_set()), None)
                if gone is not None:
                    if self.mode is ConversationMode.MIX:
                        await self.remove(gone)
                        continue
                    return gone
                if self._system_end.is_set():
                    return None
                self._changed.clear()
                waits: list[asyncio.Future[Any]] = [watch(p.hung_up) for p in self._participants]
                waits.append(watch(self._system_end))
                waits.append(watch(self._changed))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for future in waits:
                        future.cancel()
        finally:
            self._running = False
            for participant in self._participants:
                _unwatch(participant)

    async def dissolve(self) -> None:
        """Undo every media join and send BYE to every leg still up (not waiting for answers)."""
        for task in list(self._tasks):
            task.cancel()
        if (
            not self._participants
            and self._relayed is None
            and self._conference is None
            and not self._lock.locked()
        ):
            return  # dissolved already (the call's end, then its release): nothing joined
        for participant in self._participants:
            _unwatch(participant)
        legs = self.legs
        self._participants.clear()
        await self._relayout()
        for leg in legs:
            leg.bye_soon()

    # --- media ---------------------------------------------------------------------------

    async def _relayout(self) -> None:
        """Join the legs' endpoints as the current participants call for."""
        async with self._lock:
            mode = self.mode
            endpoints = _endpoints(self._participants)
            if self._conference is not None and mode is not ConversationMode.MIX:
                await self._close_conference()
            if self._relayed is not None and (
                mode is not ConversationMode.RELAY or set(self._relayed) != set(endpoints)
            ):
                with contextlib.suppress(MediaError):
                    await self.media.disconnect(self._relayed[0])
                self._relayed = None
            if mode is ConversationMode.RELAY and self._relayed is None:
                await self.media.connect(endpoints[0], endpoints[1])
                self._relayed = (endpoints[0], endpoints[1])
            elif mode is ConversationMode.MIX:
                await self._mix(endpoints)

    async def _mix(self, endpoints: Sequence[str]) -> None:
        if self._conference is None:
            self._conference = await self.media.create_conference(max_members=self.max_members)
        for gone in self._members - set(endpoints):
            with contextlib.suppress(MediaError):
                await self.media.remove_member(self._conference, gone)
            self._members.discard(gone)
        for endpoint in endpoints:
            if endpoint not in self._members:
                await self.media.add_member(self._conference, endpoint)
                self._members.add(endpoint)

    async def _close_conference(self) -> None:
        conference, self._conference = self._conference, None
        self._members.clear()
        if conference is not None:
            with contextlib.suppress(MediaError):
                await self.media.destroy_conference(conference)

    # --- hold and media timeouts (while running) -----------------------------------------

    def _watch(self, participant: Participant) -> None:
        if isinstance(participant, CallLeg):
            participant.on_direction = self._reflect
            participant.on_media_timeout = lambda _leg: self.end("media timeout")

    def _reflect(self, leg: CallLeg, direction: Direction) -> None:
        """One side of a relay put the call on hold (or took it off): tell the other side."""
        if self.mode is not ConversationMode.RELAY:
            return
        other = next((p for p in self.legs if p is not leg), None)
        if other is None:
            return
        task = asyncio.get_running_loop().create_task(other.offer_direction(direction))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _endpoints(participants: Sequence[Participant]) -> list[str]:
    return [e for p in participants if (e := p.media_endpoint) is not None]


def _mode_of(participants: Sequence[Participant]) -> ConversationMode:
    """One pass over the participants (asked at every change and every wake of `wait_end`)."""
    if not participants:
        return ConversationMode.EMPTY
    count = 0
    for participant in participants:
        if isinstance(participant, ApplicationParticipant):
            return ConversationMode.APPLICATION
        if participant.media_endpoint is not None:
            count += 1
    if count >= 3:
        return ConversationMode.MIX
    if count == 2:
        return ConversationMode.RELAY
    return ConversationMode.ALONE


def _unwatch(participant: Participant) -> None:
    if isinstance(participant, CallLeg):
        participant.on_direction = None
        participant.on_media_timeout = None
