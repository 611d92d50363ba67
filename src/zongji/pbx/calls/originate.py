"""Originate: the platform starts a call by calling out, and puts the answered leg into a
conversation — what callback, conference dial-out and voice codes are built on.

Three kinds of callee: one device of a user (`device=` its credential id), all of a user's (or
several users') registered devices in parallel, or an outside number through the enterprise's
trunks in turn (the same failover as a device's outbound call, `trunks/dialout.py`). The leg is
the PBX's own: its endpoint offers our SDP, the callee's answer points the endpoint at the
callee, and the leg joins the conversation given (a relay once a second leg joins it).

Whoever originates owns what follows: authorising the call (the outbound policy), its record,
and hanging the leg up; `CallEngine.stop()` hangs up originated legs still up.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from zongji.media import MediaError, MediaServer
from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.fork import (
    DeviceFlows,
    ForkOutcome,
    ForkResult,
    ForkTarget,
    TrunkAttempt,
    ring,
    trunk_target,
    user_targets,
)
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.sdp import SdpRefused, endpoint_spec, read_answer
from zongji.pbx.contracts import Location, Party, Subscriber, TenantLine, TrunkDial, Trunks
from zongji.pbx.trunks.dialout import dial_out
from zongji.sip import Response, UserAgent

log = logging.getLogger(__name__)

LegFactory = Callable[[str], Awaitable[tuple[CallLeg, bytes]]]


class OriginateOutcome(enum.StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"  # nobody to ring (no device registered, no trunk), or all failed
    CANCELLED = "cancelled"  # the originator gave up (`gone`)
    FAILED = "failed"  # the callee's answer could not be used


@dataclass(frozen=True)
class Originated:
    outcome: OriginateOutcome
    leg: CallLeg | None = None  # ANSWERED: the leg, in the conversation
    answered_by: Subscriber | None = None
    trunk_id: uuid.UUID | None = None
    status: int = 0  # the final SIP status that decided (0: none)


_OUTCOMES = {
    ForkOutcome.BUSY: OriginateOutcome.BUSY,
    ForkOutcome.NO_ANSWER: OriginateOutcome.NO_ANSWER,
    ForkOutcome.UNAVAILABLE: OriginateOutcome.UNAVAILABLE,
    ForkOutcome.CANCELLED: OriginateOutcome.CANCELLED,
}


class Originator:
    def __init__(
        self,
        ua: UserAgent,
        media: MediaServer,
        new_leg: LegFactory,
        location: Location,
        flows: DeviceFlows,
        trunks: Trunks,
        *,
        ring_timeout: float,
        trunk_setup_timeout: float,
        media_timeout: float | None,
    ) -> None:
        self.ua = ua
        self.media = media
        self.new_leg = new_leg
        self.location = location
        self.flows = flows
        self.trunks = trunks
        self.ring_timeout = ring_timeout
        self.trunk_setup_timeout = trunk_setup_timeout
        self.media_timeout = media_timeout
        self._legs: weakref.WeakSet[CallLeg] = weakref.WeakSet()

    async def to_users(
        self,
        tenant: TenantLine,
        users: Sequence[Subscriber],
        conversation: Conversation,
        *,
        caller: Party,
        device: uuid.UUID | None = None,
        gone: asyncio.Event | None = None,
    ) -> Originated:
        """Ring the users' registered devices (or just `device`); the first to answer joins."""
        targets, owners = await user_targets(
            self.location, self.flows, tenant, users, caller, device=device
        )
        if not targets:
            return Originated(OriginateOutcome.UNAVAILABLE)
        leg, offer = await self.new_leg(_new_id())
        result = await ring(
            self.ua,
            targets,
            offer,
            ring_timeout=self.ring_timeout,
            caller_gone=gone or asyncio.Event(),
        )
        if result.outcome is not ForkOutcome.ANSWERED:
            await leg.close()
            return Originated(_OUTCOMES[result.outcome], status=result.status)
        owner = owners.get(result.target.label) if result.target is not None else None
        return await self._join(leg, result, conversation, answered_by=owner)

    async def to_number(
        self,
        tenant: TenantLine,
        number: str,
        conversation: Conversation,
        *,
        caller_id: str,
        gone: asyncio.Event | None = None,
    ) -> Originated:
        """Call an outside number (E.164) through the enterprise's trunks, in turn."""
        dials = list(self.trunks.dials(tenant, number, caller_id))
        if not dials:
            return Originated(OriginateOutcome.UNAVAILABLE, status=503)
        given_up = gone or asyncio.Event()

        async def attempt(dial: TrunkDial) -> _Attempt:
            leg, offer = await self.new_leg(_new_id())
            watch = _SetupWatch(given_up)
            setup = asyncio.get_running_loop().call_later(self.trunk_setup_timeout, watch.timed_out)
            try:
                result = await ring(
                    self.ua,
                    [trunk_target(dial)],
                    offer,
                    ring_timeout=self.ring_timeout,
                    caller_gone=watch.stop,
                    on_provisional=watch.provisional,
                )
            finally:
                setup.cancel()
                watch.close()
            if result.outcome is ForkOutcome.ANSWERED:
                joined = await self._join(leg, result, conversation, trunk_id=dial.trunk_id)
                return _Attempt(result, 200, silent=False, joined=joined)
            await leg.close()
            status = result.statuses.get(str(dial.trunk_id), 0)
            return _Attempt(result, status, silent=watch.silent)

        tried = await dial_out(self.trunks, dials, attempt, gone=given_up)
        if tried.answered is not None:
            assert tried.answered.joined is not None
            return tried.answered.joined
        if given_up.is_set():
            return Originated(OriginateOutcome.CANCELLED)
        last = tried.last
        if last is None:
            return Originated(OriginateOutcome.UNAVAILABLE)
        outcome = _OUTCOMES.get(last.result.outcome, OriginateOutcome.UNAVAILABLE)
        return Originated(outcome, status=last.status)

    async def _join(
        self,
        leg: CallLeg,
        result: ForkResult,
        conversation: Conversation,
        *,
        answered_by: Subscriber | None = None,
        trunk_id: uuid.UUID | None = None,
    ) -> Originated:
        """The callee answered: point the endpoint at its answer and join the conversation."""
        assert result.dialog is not None
        assert result.response is not None
        leg.attach(result.dialog)
        try:
            negotiated = read_answer(leg.session, result.response.body)
            await self.media.update_endpoint(
                leg.endpoint_id, endpoint_spec(negotiated, media_timeout=self.media_timeout)
            )
        except (SdpRefused, MediaError) as error:
            log.info("originated call's answer unusable: %s", error)
            with contextlib.suppress(Exception):
                await leg.bye()
            await leg.close()
            return Originated(OriginateOutcome.FAILED, status=488)
        self._legs.add(leg)
        await conversation.add(leg)
        return Originated(
            OriginateOutcome.ANSWERED, leg, answered_by=answered_by, trunk_id=trunk_id, status=200
        )

    async def close(self) -> None:
        """Hang up every originated leg still up (the node is stopping)."""
        for leg in list(self._legs):
            with contextlib.suppress(Exception):
                await leg.bye()
            await leg.close()


@dataclass(frozen=True)
class _Attempt(TrunkAttempt):
    """A try through one trunk, and the leg it joined to the conversation if it was answered."""

    joined: Originated | None = None


class _SetupWatch:
    """Stop ringing a trunk that said nothing within the set-up time, or when given up."""

    def __init__(self, gone: asyncio.Event) -> None:
        self.stop = asyncio.Event()
        self.silent = False
        self.responded = False
        self._follow = asyncio.get_running_loop().create_task(self._follow_gone(gone))

    async def _follow_gone(self, gone: asyncio.Event) -> None:
        await gone.wait()
        self.stop.set()

    def provisional(self, target: ForkTarget, response: Response, dialog: object) -> None:
        self.responded = True

    def timed_out(self) -> None:
        if not self.responded:
            self.silent = True
            self.stop.set()

    def close(self) -> None:
        self._follow.cancel()


def _new_id() -> str:
    return "orig-" + uuid.uuid4().hex
