"""A call leg: one SIP dialog with one peer, and the media endpoint that peer talks to.

The B2BUA has two legs per bridged call, and one leg while an application (the main-number IVR,
voicemail, a refusal announcement) talks to the caller by itself. `CallLeg` is the `AnsweredLeg`
those applications are handed: it plays, collects digits from the `DtmfReceived` events of its
endpoint, records, and hangs up; when the peer hangs up, `hung_up` is set and every pending wait
returns at once, so an application never talks to nobody.

Each leg also answers its peer's re-INVITEs (hold and unhold, a moved address): it negotiates with
its own `SdpSession`, points its endpoint at the new address, and tells `on_direction` what the
peer now wants, so a bridge can reflect hold to the other side.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from zongji.media import (
    DtmfReceived,
    EndpointInfo,
    MediaError,
    MediaEvent,
    MediaServer,
    MediaTimeout,
    PlaybackEnd,
    PlaybackFinished,
    PlayItem,
    RecordingEnd,
    RecordingFinished,
)
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.flags import Flag, watch
from zongji.pbx.calls.sdp import (
    SdpRefused,
    answer_offer,
    endpoint_spec,
    make_offer,
    read_answer,
    read_sdp,
)
from zongji.sip import (
    Dialog,
    DialogTerminated,
    Direction,
    IncomingCall,
    IncomingRequest,
    NegotiatedAudio,
    SdpSession,
)

log = logging.getLogger(__name__)

#: In-dialog requests other than INVITE and BYE that a leg simply acknowledges.
_ACKNOWLEDGED = frozenset({"INFO", "OPTIONS", "NOTIFY", "MESSAGE"})


class CallLeg:
    """One side of a call, implementing `AnsweredLeg` for applications and `Participant` for
    conversations (`participants.py`)."""

    #: Our SDP answer to the peer's offer, when the peer offered (the caller's leg): made once.
    answer_body: bytes = b""
    negotiated: NegotiatedAudio | None = None

    def __init__(
        self,
        call_id: str,
        media: MediaServer,
        router: MediaEventRouter,
        endpoint: EndpointInfo,
        session: SdpSession,
        *,
        media_timeout: float | None,
    ) -> None:
        self.call_id = call_id
        self.media = media
        self.endpoint = endpoint
        self.endpoint_id = endpoint.id
        self.session = session
        self.media_timeout = media_timeout
        self.hung_up: asyncio.Event = Flag()
        self.dialog: Dialog | None = None
        #: What the peer last asked for (its own direction): SENDONLY/INACTIVE mean hold.
        self.peer_direction = Direction.SENDRECV
        self.on_direction: Callable[[CallLeg, Direction], None] | None = None
        self.on_media_timeout: Callable[[CallLeg], None] | None = None
        self.hangup_handler: Callable[[CallLeg], Awaitable[None]] | None = None
        #: an application listens to this leg's keys: detect in-band DTMF if need be
        self.inband_dtmf = False
        self._router = router
        self._digits: collections.deque[str] = collections.deque()
        #: made by the first `collect` (most legs never collect digits)
        self._digit_arrived: Flag | None = None
        #: whether this leg ever started a playback: a leg that never did has none to stop
        self._played = False
        self._waits: dict[str, asyncio.Future[MediaEvent]] = {}
        self._unclaimed: dict[str, MediaEvent] = {}
        self._closed = False
        router.listen(endpoint.id, self)

    # --- SIP -----------------------------------------------------------------------------

    def attach(self, dialog: Dialog) -> None:
        """The leg's dialog is confirmed: watch it for re-INVITEs and the peer's BYE."""
        self.dialog = dialog
        dialog.on_request = self._in_dialog
        dialog.on_terminated = self._dialog_ended
        if dialog.terminated:
            self.hung_up.set()

    def _dialog_ended(self, dialog: Dialog) -> None:
        self.hung_up.set()
        for waiter in self._waits.values():
            if not waiter.done():
                waiter.cancel()

    async def _in_dialog(self, incoming: IncomingRequest) -> None:
        if isinstance(incoming, IncomingCall):
            await self._reinvite(incoming)
        elif incoming.method in _ACKNOWLEDGED:
            incoming.respond(200)
        else:
            incoming.respond(501)

    async def _reinvite(self, incoming: IncomingCall) -> None:
        try:
            offer = read_sdp(incoming.offer, incoming.request.headers.get("content-type"))
            body, negotiated = answer_offer(self.session, offer)
        except SdpRefused as error:
            incoming.reject(488, str(error)[:80])
            return
        try:
            await self.media.update_endpoint(
                self.endpoint_id,
                endpoint_spec(
                    negotiated,
                    media_timeout=self._timeout_for(negotiated.direction),
                    inband_dtmf=self.inband_dtmf,
                ),
            )
        except MediaError:
            incoming.reject(500)
            return
        incoming.answer(body)
        direction = negotiated.direction.reversed()  # what the peer said of itself
        if direction != self.peer_direction:
            self.peer_direction = direction
            if self.on_direction is not None:
                self.on_direction(self, direction)

    def _timeout_for(self, direction: Direction) -> float | None:
        """No media timeout while the peer is not sending to us (inactive/recvonly hold)."""
        return self.media_timeout if direction.receives else None

    @property
    def on_hold(self) -> bool:
        return not self.peer_direction.receives

    @property
    def media_endpoint(self) -> str | None:
        """As a conversation participant, the leg's audio is its endpoint's."""
        return self.endpoint_id

    @property
    def answered(self) -> bool:
        """The leg's dialog is confirmed (the caller's: the PBX or a callee answered it)."""
        return self.dialog is not None

    async def offer_direction(self, direction: Direction) -> None:
        """Re-INVITE the peer with `direction` (hold or unhold reflected from the other side of
        a relay), retrying on glare (RFC 3261 §14.1), and point the endpoint at its answer."""
        dialog = self.dialog
        if dialog is None:
            return
        for attempt in range(3):
            try:
                response = await dialog.reinvite(make_offer(self.session, direction))
            except RuntimeError:  # their own re-INVITE is in progress: try again shortly
                await asyncio.sleep(0.2 + random.random() * 0.5)
                continue
            except (DialogTerminated, TimeoutError, OSError):
                return
            if response.status == 491 and attempt < 2:  # glare
                await asyncio.sleep(
                    random.uniform(2.1, 4.0) if dialog.is_uac else random.uniform(0, 2.0)
                )
                continue
            if not response.success:
                log.info("re-INVITE for hold on %s got %s", self.call_id, response.status)
                return
            try:
                negotiated = read_answer(self.session, response.body)
                await self.media.update_endpoint(
                    self.endpoint_id,
                    endpoint_spec(
                        negotiated,
                        media_timeout=None
                        if direction is not Direction.SENDRECV
                        else self.media_timeout,
                    ),
                )
            except (SdpRefused, MediaError) as error:
                log.info("answer to hold re-INVITE on %s unusable: %s", self.call_id, error)
            return

    def bye_soon(self) -> None:
        """End the dialog now and let the BYE's transaction finish in the background: the call
        is over at this moment (for the record and the other side), however long the peer
        takes to answer the BYE."""
        self.hung_up.set()
        dialog = self.dialog
        if dialog is not None and not dialog.terminated:
            task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(dialog.bye())
            dialog.ua.track(task)

    async def bye(self) -> None:
        dialog = self.dialog
        if dialog is not None and not dialog.terminated:
            await dialog.bye()
        self.hung_up.set()

    # --- media events --------------------------------------------------------------------

    def media_event(self, event: MediaEvent) -> None:
        if isinstance(event, DtmfReceived):
            self._digits.append(event.digit)
            if self._digit_arrived is not None:  # else no `collect` waits (it looks first)
                self._digit_arrived.set()
            return
        if isinstance(event, MediaTimeout):
            if self.on_media_timeout is not None and not self.on_hold:
                self.on_media_timeout(self)
            return
        key = (
            event.playback_id
            if isinstance(event, PlaybackFinished)
            else event.recording_id
            if isinstance(event, RecordingFinished)
            else None
        )
        if key is None:
            return
        waiter = self._waits.pop(key, None)
        if waiter is None:
            self._unclaimed[key] = event
        elif not waiter.done():
            waiter.set_result(event)

    async def _wait_for(self, key: str) -> MediaEvent | None:
        """The event that ends playback/recording `key`, or None if the peer hung up first."""
        if key in self._unclaimed:
            return self._unclaimed.pop(key)
        if self.hung_up.is_set():
            return None
        waiter: asyncio.Future[MediaEvent] = asyncio.get_running_loop().create_future()
        self._waits[key] = waiter
        hung_up = watch(self.hung_up)
        waiting: set[asyncio.Future[Any]] = {waiter, hung_up}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
            self._waits.pop(key, None)
        if waiter.done() and not waiter.cancelled():
            return waiter.result()
        waiter.cancel()
        return None

    # --- AnsweredLeg ---------------------------------------------------------------------

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished:
        gone = PlaybackFinished(self.endpoint_id, "", PlaybackEnd.TARGET_GONE)
        if self.hung_up.is_set() or self._closed:
            return gone
        self._played = True
        playback_id = await self.media.play(self.endpoint_id, items, barge_in=barge_in)
        event = await self._wait_for(playback_id)
        if isinstance(event, PlaybackFinished):
            return event
        with contextlib.suppress(MediaError):
            await self.media.stop_playback(self.endpoint_id)
        return PlaybackFinished(self.endpoint_id, playback_id, PlaybackEnd.TARGET_GONE)

    async def start_playing(self, items: Sequence[PlayItem], *, loop: bool = False) -> None:
        """Play without waiting (ringback while the callee rings)."""
        self._played = True
        with contextlib.suppress(MediaError):
            await self.media.play(self.endpoint_id, items, loop=loop)

    async def stop_playing(self) -> None:
        """Stop what this leg plays; nothing to ask the media engine if it never played (the
        caller of a colleague's phone, which makes its own ringback)."""
        if not self._played:
            return
        with contextlib.suppress(MediaError):
            await self.media.stop_playback(self.endpoint_id)

    async def collect(
        self,
        max_digits: int,
        *,
        first_timeout: float,
        inter_digit_timeout: float,
        terminators: str = "#",
    ) -> str:
        """Digits keyed so far (including one that interrupted a prompt) and then more, until
        `max_digits`, a terminator (not returned), a timeout, or the peer hangs up."""
        collected = ""
        timeout = first_timeout
        loop = asyncio.get_running_loop()
        digit_arrived = self._digit_arrived
        if digit_arrived is None:
            digit_arrived = self._digit_arrived = Flag()
        while len(collected) < max_digits and not self.hung_up.is_set():
            if not self._digits:
                digit_arrived.clear()
                deadline = loop.time() + timeout
                hung_up = watch(self.hung_up)
                arrived = digit_arrived.future()
                try:
                    await asyncio.wait(
                        {hung_up, arrived},
                        timeout=max(0.0, deadline - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    hung_up.cancel()
                    arrived.cancel()
                if not self._digits:
                    break
            digit = self._digits.popleft()
            if digit in terminators:
                break
            collected += digit
            timeout = inter_digit_timeout
        return collected

    def clear_digits(self) -> None:
        self._digits.clear()

    async def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, stop_digits: str = "#"
    ) -> RecordingFinished:
        if self.hung_up.is_set() or self._closed:
            return RecordingFinished(self.endpoint_id, "", path, 0.0, RecordingEnd.ENDPOINT_GONE)
        recording_id = await self.media.record(
            self.endpoint_id,
            path,
            max_seconds=float(max_seconds),
            silence_seconds=float(silence_seconds),
            stop_digits=stop_digits,
        )
        event = await self._wait_for(recording_id)
        if isinstance(event, RecordingFinished):
            return event
        # The peer hung up: the engine saves what was recorded when the endpoint goes; stopping
        # here gives the application the finished file now.
        with contextlib.suppress(MediaError):
            await self.media.stop_recording(self.endpoint_id)
        late = await self._late_event(recording_id)
        if isinstance(late, RecordingFinished):
            return late
        return RecordingFinished(
            self.endpoint_id, recording_id, path, 0.0, RecordingEnd.ENDPOINT_GONE
        )

    async def _late_event(self, key: str, within: float = 2.0) -> MediaEvent | None:
        """An event still on its way after the peer hung up (the saved recording)."""
        if key in self._unclaimed:
            return self._unclaimed.pop(key)
        waiter: asyncio.Future[MediaEvent] = asyncio.get_running_loop().create_future()
        self._waits[key] = waiter
        try:
            return await asyncio.wait_for(waiter, within)
        except TimeoutError:
            return None
        finally:
            self._waits.pop(key, None)

    async def hangup(self) -> None:
        """The application is done with the caller: the engine ends the call."""
        if self.hangup_handler is not None:
            await self.hangup_handler(self)
        else:
            await self.bye()

    # --- the end -------------------------------------------------------------------------

    async def close(self) -> None:
        """Free the endpoint (a recording in progress is saved by the engine)."""
        if self._closed:
            return
        self._closed = True
        self.hung_up.set()
        with contextlib.suppress(MediaError):
            await self.media.destroy_endpoint(self.endpoint_id)
        # Let a RecordingFinished for a saved recording reach a waiting application first.
        self._router.forget_later(self.endpoint_id)
