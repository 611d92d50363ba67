"""The call engine: every new INVITE the PBX receives becomes a call here (a B2BUA).

Each INVITE goes through four steps:

1. **classify** — who is calling. From a trunk (by source address, `Trunks.inbound_trunk`, asked
   once): an outside caller, and the called number (DID). From a device: the Request-URI's domain
   picks the enterprise (unknown: 404), the request must carry Digest credentials of one of its
   devices (`DeviceAuth`: 407 otherwise), and the caller is that device's user, whatever the From
   header says.
2. **resolve** — where to (`router.py`): the dialled string or the DID becomes a `Destination`.
   A destination that refuses before there is a call (no such number) is answered at once. Then
   the caller's SDP offer is answered, once, with its own media endpoint (488 if unusable), and
   the call is made: a `Call` (`call.py`) whose transitions the record and billing observe, and a
   `Conversation` (`conversation.py`) holding the caller's leg.
3. **authorise** — every number a device dials passes the outbound policy before anything is sent
   anywhere; a refused caller hears why (the refusal announcement, early media) and gets 403.
4. **run** — users are rung (forking to all their devices, `fork.py`), with their voicemail box
   (`apps/voicemail_box`) for a call they miss; an external number leaves through the trunks in
   turn (`trunks/dialout.py`); an application (`zongji.pbx.apps`) talks to the caller and may hand
   on to another destination (the main-number menu's choice). An answered call is the caller's and
   the callee's legs relayed in the conversation until either hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from zongji.directory.service_period import local_today
from zongji.media import EndpointSpec, MediaError, MediaServer, Prompt
from zongji.pbx.apps.application import AppContext, Application
from zongji.pbx.apps.registry import Applications
from zongji.pbx.calls.call import Call, CallState
from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.flags import watch
from zongji.pbx.calls.fork import (
    DeviceFlows,
    ForkOutcome,
    ForkResult,
    TrunkAttempt,
    ring,
    trunk_target,
    user_targets,
)
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.limits import TalkLimit
from zongji.pbx.calls.observers import BillingObserver, RecordObserver
from zongji.pbx.calls.originate import Originated, Originator
from zongji.pbx.calls.participants import ApplicationParticipant
from zongji.pbx.calls.record import CallLog
from zongji.pbx.calls.ringback import Ringback, progress
from zongji.pbx.calls.router import NumberRouter, Router, reason_phrase
from zongji.pbx.calls.sdp import (
    SdpRefused,
    answer_offer,
    endpoint_spec,
    make_offer,
    read_answer,
    read_sdp,
)
from zongji.pbx.contracts import (
    CallDirection,
    CallRecords,
    CallStatus,
    DeviceAuth,
    DialKind,
    HangupSide,
    Location,
    OutboundPolicy,
    Party,
    PolicyDecision,
    Subscriber,
    TelephonyView,
    TenantLine,
    TrunkDial,
    Trunks,
    Voicemail,
)
from zongji.pbx.destinations import NOT_AVAILABLE, Destination, DestinationKind
from zongji.pbx.dialling import caller_id_for
from zongji.pbx.trunks.dialout import dial_out
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.phone import to_e164
from zongji.sip import (
    Dialog,
    IncomingCall,
    LocalMedia,
    SdpSession,
    SipUri,
    TelUri,
    UserAgent,
)

log = logging.getLogger(__name__)


class CallServices(Protocol):
    """The parts of `PbxServices` the engine uses (each built by its own part). Read-only
    members, so a `PbxServices` holding the concrete services satisfies it."""

    @property
    def view(self) -> TelephonyView: ...
    @property
    def device_auth(self) -> DeviceAuth: ...
    @property
    def location(self) -> Location: ...
    @property
    def flows(self) -> DeviceFlows: ...
    @property
    def trunk_runtime(self) -> Trunks: ...
    @property
    def records(self) -> CallRecords: ...
    @property
    def policy(self) -> OutboundPolicy: ...
    @property
    def voicemail(self) -> Voicemail: ...
    @property
    def numbers(self) -> NumberRouter: ...


class _CallerGone(Exception):
    """The caller cancelled before the PBX could answer it (IVR, voicemail)."""


@dataclass(frozen=True)
class _Classified:
    """An INVITE classified and resolved: everything the call is made from."""

    tenant: TenantLine
    direction: CallDirection
    caller: Party
    callee: Party
    destination: Destination
    caller_user: Subscriber | None = None  # a device's user
    trunk_id: uuid.UUID | None = None  # the trunk an outside call came in on
    outside_number: str | None = None  # the DID called, or the caller ID sent out


@dataclass
class LiveCall:
    """What the engine holds of one call in progress, for its run, shutdown and tests."""

    call: Call
    incoming: IncomingCall
    caller_leg: CallLeg
    conversation: Conversation
    origin: _Classified
    legs: list[CallLeg] = field(default_factory=list)
    watchers: list[asyncio.Future[Any]] = field(default_factory=list)

    @property
    def call_id(self) -> str:
        return self.call.call_id


class CallEngine:
    def __init__(
        self,
        ua: UserAgent,
        media: MediaServer,
        pbx: CallServices,
        settings: Settings,
        clock: Clock,
        *,
        applications: Applications | None = None,
    ) -> None:
        self.ua = ua
        self.media = media
        self.pbx = pbx
        self.settings = settings
        self.clock = clock
        self.media_events = MediaEventRouter(media)
        self.applications = applications if applications is not None else Applications()
        self.router = Router(pbx.view, pbx.numbers, pbx.voicemail, self.applications)
        #: live calls by the engine's call id (also the record's and the policy's): our own,
        #: never the device's Call-ID, which a device could reuse to collide with another call
        self.calls: dict[str, LiveCall] = {}
        self._by_incoming: dict[int, LiveCall] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ring_timeout = settings.ring_timeout
        self.media_timeout: float | None = settings.media_timeout or None
        self.trunk_setup_timeout = settings.trunk_setup_timeout
        self.originator = Originator(
            ua,
            media,
            self.offering_leg,
            pbx.location,
            pbx.flows,
            pbx.trunk_runtime,
            ring_timeout=self.ring_timeout,
            trunk_setup_timeout=self.trunk_setup_timeout,
            media_timeout=self.media_timeout,
        )

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.media_events.start()

    async def stop(self) -> None:
        """Hang up every live call (records closed with hang-up side SYSTEM)."""
        for live in list(self.calls.values()):
            live.call.stopping = True
            live.call.gone.set()
            live.conversation.end("shutdown")
            if live.call.state is not CallState.CONNECTED and live.caller_leg.answered:
                live.caller_leg.hung_up.set()
        handlers = [t for t in self._tasks if not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=5.0)
        for live in list(self.calls.values()):
            if not live.incoming.answered:
                with contextlib.suppress(Exception):
                    _reject(live.incoming, 503, "Service Unavailable")
            for leg in live.legs:
                with contextlib.suppress(Exception):
                    await leg.bye()
                await leg.close()
            await live.call.end(CallStatus.FAILED, HangupSide.SYSTEM, reason="shutdown")
        self.calls.clear()
        self._by_incoming.clear()
        await self.originator.close()
        await self.media_events.stop()

    # --- entry ---------------------------------------------------------------------------

    async def handle_invite(self, incoming: IncomingCall) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._take(incoming)
        except _CallerGone:
            live = self._by_incoming.get(id(incoming))
            if live is not None:
                await self._finish(live, CallStatus.CANCELLED, HangupSide.CALLER)
        except Exception:
            log.exception("call with Call-ID %s failed", incoming.request.call_id)
            if not incoming.answered:
                with contextlib.suppress(Exception):
                    _reject(incoming, 500)
            live = self._by_incoming.get(id(incoming))
            if live is not None:
                await self._finish(live, CallStatus.FAILED, HangupSide.SYSTEM, reason="error")
        finally:
            live = self._by_incoming.pop(id(incoming), None)
            if live is not None:
                self.calls.pop(live.call_id, None)
                await self._release(live)
            if task is not None:
                self._tasks.discard(task)

    async def originate(
        self,
        destination: Destination,
        conversation: Conversation,
        *,
        caller: Party,
        device: uuid.UUID | None = None,
        gone: asyncio.Event | None = None,
    ) -> Originated:
        """Call out to a user's devices (one `device` of theirs), the receptionists, or an
        outside number (`caller.number` is the caller ID sent), and put the answered leg into
        `conversation` (`originate.py`). The caller of this authorises and records the call."""
        tenant = destination.tenant
        if tenant is None:
            raise ValueError("an originated call needs the enterprise it is made for")
        if destination.kind in (DestinationKind.USER, DestinationKind.RECEPTIONISTS):
            return await self.originator.to_users(
                tenant, destination.users, conversation, caller=caller, device=device, gone=gone
            )
        if destination.kind is DestinationKind.EXTERNAL_NUMBER:
            return await self.originator.to_number(
                tenant, destination.number, conversation, caller_id=caller.number, gone=gone
            )
        raise ValueError(f"cannot originate a call to a {destination.kind}")

    async def _take(self, incoming: IncomingCall) -> None:
        """Classify → resolve → (make the call) → authorise → run."""
        trunk_id = self.pbx.trunk_runtime.inbound_trunk(incoming.source)
        if trunk_id is not None:
            origin = await self._from_trunk(incoming, trunk_id)
        else:
            origin = await self._from_device(incoming)
        if origin is None:
            return  # refused, challenged or answered already
        destination = origin.destination
        if destination.kind is DestinationKind.HANG_UP and destination.dialled is None:
            _reject(incoming, destination.status, destination.reason)  # not a call: no record
            return
        call_id = _new_call_id()
        caller_leg = await self._answer_offer(incoming, call_id)
        if caller_leg is None:
            return  # 488
        live = await self._new_call(incoming, call_id, origin, caller_leg)
        if origin.caller_user is not None and destination.dialled is not None:
            decision: PolicyDecision = await self.pbx.policy.authorise(
                live.call_id, origin.tenant, origin.caller_user, destination.dialled
            )
            live.call.observers.append(BillingObserver(self.pbx.policy))
            if not decision.allowed:
                await self._refuse(live, decision)
                return
        await self._run(live, destination)

    async def _release(self, live: LiveCall) -> None:
        """Whatever path the call took, nothing of it outlives it: watchers, media joins,
        endpoints, and a call left open (which would be a bug) is ended as failed."""
        for watcher in live.watchers:
            watcher.cancel()
        live.call.gone.set()
        with contextlib.suppress(Exception):
            await live.conversation.dissolve()
        for leg in live.legs:
            with contextlib.suppress(Exception):
                await leg.bye()
            await leg.close()
        live.legs.clear()
        if not live.call.ended:
            await live.call.end(CallStatus.FAILED, HangupSide.SYSTEM, reason="internal error")

    # --- classify and resolve ------------------------------------------------------------

    async def _from_device(self, incoming: IncomingCall) -> _Classified | None:
        uri = incoming.request.uri
        if not isinstance(uri, SipUri) or not uri.user:
            _refuse_stranger(incoming, 404 if isinstance(uri, SipUri) else 416)
            return None
        tenant = await self.pbx.view.tenant_by_domain(uri.host.lower())
        if tenant is None:
            _refuse_stranger(incoming, 404, "Unknown Domain")
            return None
        device = await self.pbx.device_auth.authenticate(incoming, tenant)
        if device is None:
            return None  # challenged or refused by DeviceAuth
        caller = await self.pbx.view.subscriber(tenant.tenant_id, device.user_id)
        if caller is None:
            _reject(incoming, 403, "Unknown User")
            return None
        destination = await self.router.dialled(tenant, uri.user)
        me = Party(caller.extension or device.username, caller.user_id, caller.name)
        if destination.application is not None:  # a feature code: its application's kind
            app = self.applications.named(destination.application)
            callee = Party(destination.number, name=app.title if app is not None else None)
            return _Classified(tenant, CallDirection.INTERNAL, me, callee, destination, caller)
        dialled = destination.dialled
        internal = dialled is None or dialled.kind is DialKind.EXTENSION
        return _Classified(
            tenant,
            CallDirection.INTERNAL if internal else CallDirection.OUTBOUND,
            me,
            destination.callee(),
            destination,
            caller,
            # the enterprise number an outside callee will see: recorded as the outside line's
            outside_number=None if internal else caller_id_for(caller, tenant),
        )

    async def _from_trunk(self, incoming: IncomingCall, trunk_id: uuid.UUID) -> _Classified | None:
        request = incoming.request
        called = _number_of(request.uri) or _number_of(request.to_addr.uri)
        if called is None:
            _reject(incoming, 404)
            return None
        destination = await self.router.called_number(called)
        tenant = destination.tenant
        if tenant is None or destination.kind is DestinationKind.HANG_UP:
            _reject(incoming, destination.status, destination.reason)
            return None
        caller_number = _number_of(request.from_addr.uri, tenant.area_code) or "anonymous"
        return _Classified(
            tenant,
            CallDirection.INBOUND,
            Party(caller_number),
            destination.callee(called),
            destination,
            trunk_id=trunk_id,
            outside_number=called,
        )

    async def _answer_offer(self, incoming: IncomingCall, call_id: str) -> CallLeg | None:
        """The caller's leg: its endpoint and our answer to its offer (made once per call);
        None when the offer is unusable (488 sent, nothing kept)."""
        try:
            offer = read_sdp(incoming.offer, incoming.request.headers.get("content-type"))
        except SdpRefused as error:
            _reject(incoming, 488, reason_phrase(error))
            return None
        info = await self.media.create_endpoint(EndpointSpec(media_timeout=self.media_timeout))
        session = SdpSession(LocalMedia(self._media_host(info.local[0]), info.local[1]))
        leg = CallLeg(
            call_id, self.media, self.media_events, info, session, media_timeout=self.media_timeout
        )
        try:
            body, negotiated = answer_offer(session, offer)
        except SdpRefused as error:
            await leg.close()
            _reject(incoming, 488, reason_phrase(error))
            return None
        try:
            await self.media.update_endpoint(
                info.id, endpoint_spec(negotiated, media_timeout=self.media_timeout)
            )
        except Exception:
            await leg.close()
            raise
        leg.answer_body = body
        leg.negotiated = negotiated
        leg.hangup_handler = self._leg_hangup
        return leg

    async def _new_call(
        self, incoming: IncomingCall, call_id: str, origin: _Classified, caller_leg: CallLeg
    ) -> LiveCall:
        call = Call(call_id, origin.tenant, origin.direction, self.clock)
        record = RecordObserver(
            CallLog.new(
                self.pbx.records,
                self.clock,
                call_id=call_id,
                tenant_id=origin.tenant.tenant_id,
                direction=origin.direction,
                caller=origin.caller,
                callee=origin.callee,
                trunk_id=origin.trunk_id,
                outside_number=origin.outside_number,
            )
        )
        call.observers.append(record)
        conversation = Conversation(self.media, name=call_id)
        live = LiveCall(call, incoming, caller_leg, conversation, origin, legs=[caller_leg])
        self.calls[call_id] = live
        self._by_incoming[id(incoming)] = live
        # the caller's CANCEL: gone (and the call's end: `_finish`, `_release`)
        incoming.on_cancel = call.gone.set
        if incoming.cancelled.is_set():
            call.gone.set()
        await conversation.add(caller_leg)
        await record.open()
        return live

    # --- authorise -----------------------------------------------------------------------

    async def _refuse(self, live: LiveCall, decision: PolicyDecision) -> None:
        """Say why (as early media, so the caller is not billed) and end with 403."""
        if decision.prompt:
            announcement = self.applications.named("refusal_announcement")
            if announcement is not None:
                await self._run_application(live, announcement, None, prompt=decision.prompt)
        _reject(live.incoming, 403, reason_phrase(decision.rule or "Forbidden"))
        await self._finish(
            live,
            CallStatus.REFUSED,
            HangupSide.SYSTEM,
            reason="403 refused by policy",
            rule=decision.rule,
        )

    # --- run -----------------------------------------------------------------------------

    async def _run(self, live: LiveCall, destination: Destination, *, routed: bool = False) -> None:
        """Take the call to `destination`. `routed`: an application chose it after the record
        was opened, so the record learns its callee."""
        kind = destination.kind
        if kind in (DestinationKind.USER, DestinationKind.RECEPTIONISTS):
            await self._ring_users(live, destination, routed=routed)
        elif kind is DestinationKind.EXTERNAL_NUMBER:
            await self._dial_out(live, destination)
        elif kind is DestinationKind.HANG_UP:
            _reject(live.incoming, destination.status, destination.reason)
            reason = f"{destination.status} {(destination.reason or '').lower()}".strip()
            await self._finish(live, CallStatus.FAILED, None, reason=reason)
        else:
            app = (
                self.applications.named(destination.application)
                if destination.application
                else self.applications.serving(kind)
            )
            if app is None:  # a kind nothing runs yet (ring group, conference bridge)
                status, phrase = NOT_AVAILABLE
                _reject(live.incoming, status, phrase)
                await self._finish(live, CallStatus.FAILED, None, reason=f"{status} {kind}")
                return
            await self._run_application(live, app, destination)

    async def _run_application(
        self,
        live: LiveCall,
        app: Application,
        destination: Destination | None,
        *,
        prompt: str | None = None,
    ) -> None:
        leg, call = live.caller_leg, live.call
        if app.answers:
            dialog = await self._answer_caller(live)
            if call.state is not CallState.IN_APPLICATION:  # not handed on by another app
                await call.transition(CallState.IN_APPLICATION, dialogs=[dialog] if dialog else ())
            if app.is_the_answer:
                await call.transition(CallState.CONNECTED)
            await leg.stop_playing()  # the ringback a caller the PBX answered was hearing
        else:
            progress(live.incoming, leg.answer_body)  # early media
        participant = ApplicationParticipant(app.name)
        await live.conversation.add(participant)
        try:
            outcome = await app.run(
                AppContext(
                    leg=leg,
                    call_id=live.call_id,
                    tenant=live.origin.tenant,
                    caller=live.origin.caller,
                    caller_user=live.origin.caller_user,
                    destination=destination,
                    services=self.pbx,
                    router=self.router,
                    clock=self.clock,
                    gone=call.gone,
                    prompt=prompt,
                )
            )
        finally:
            participant.done()
            await live.conversation.remove(participant)
        if not app.answers:
            return  # the engine ends the call as the announcement's cause says
        if outcome.next is not None:
            if leg.hung_up.is_set() or call.gone.is_set():
                await self._finish(live, CallStatus.CANCELLED, self._side_of(live))
                return
            await self._run(live, outcome.next, routed=True)
            return
        await self._finish(live, outcome.status, self._side_of(live), reason=outcome.reason)

    # --- ringing users -------------------------------------------------------------------

    async def _ring_users(self, live: LiveCall, destination: Destination, *, routed: bool) -> None:
        tenant = live.origin.tenant
        # Users out of service (suspended, outside validity) are not put through, and their
        # voicemail takes no message: they could not collect it. The caller hears "unreachable".
        today = local_today(self.clock.now(), tenant.timezone)
        users = [user for user in destination.users if user.in_service(today)]
        voicemail_for = destination.voicemail_for
        if voicemail_for is not None and not voicemail_for.in_service(today):
            voicemail_for = None
        callee = destination.callee() if routed and destination.user is not None else None
        await live.call.transition(CallState.RINGING, callee=callee)
        targets, owners = await user_targets(
            self.pbx.location, self.pbx.flows, tenant, users, live.origin.caller
        )
        if not targets:
            await self._not_reached(live, voicemail_for, ForkOutcome.UNAVAILABLE)
            return
        callee_leg, callee_offer = await self._offering_leg(live)
        ringback = self._ringback(live)
        result = await ring(
            self.ua,
            targets,
            callee_offer,
            ring_timeout=self.ring_timeout,
            caller_gone=live.call.gone,
            on_provisional=ringback.provisional,
        )
        await ringback.stop()
        if result.outcome is ForkOutcome.ANSWERED:
            answered_by = owners.get(result.target.label) if result.target else None
            party = (
                Party(answered_by.extension or "", answered_by.user_id, answered_by.name)
                if answered_by is not None
                else None
            )
            await self._connect(live, callee_leg, result, party, None)
            return
        await callee_leg.close()
        live.legs.remove(callee_leg)
        await self._not_reached(live, voicemail_for, result.outcome)

    async def _not_reached(
        self, live: LiveCall, voicemail_for: Subscriber | None, outcome: ForkOutcome
    ) -> None:
        """Nobody answered: voicemail if the user's box takes it, else the right failure."""
        if outcome is ForkOutcome.CANCELLED or live.call.gone.is_set():
            await self._finish(live, CallStatus.CANCELLED, self._side_of(live))
            return
        status = {
            ForkOutcome.BUSY: CallStatus.BUSY,
            ForkOutcome.NO_ANSWER: CallStatus.NO_ANSWER,
        }.get(outcome, CallStatus.NO_ANSWER)
        sip_status, prompt = {
            ForkOutcome.BUSY: (486, "busy"),
            ForkOutcome.NO_ANSWER: (480, "no_answer"),
        }.get(outcome, (480, "unreachable"))
        reason = f"{sip_status} {outcome.value}"
        if voicemail_for is not None:
            box = await self.router.missed_call_box(live.origin.tenant, voicemail_for)
            if box is not None:
                await self._run(live, box)
                return
        if live.caller_leg.answered:
            # an outside caller already talking to the IVR: say so, then hang up
            await live.caller_leg.play([Prompt(prompt)])
            await self._finish(live, status, HangupSide.SYSTEM, reason=reason)
            return
        _reject(live.incoming, sip_status)
        await self._finish(live, status, None, reason=reason)

    # --- calls out through trunks --------------------------------------------------------

    async def _dial_out(self, live: LiveCall, destination: Destination) -> None:
        tenant = live.origin.tenant
        caller_id = live.origin.outside_number or ""
        dials = list(self.pbx.trunk_runtime.dials(tenant, destination.number, caller_id))
        if not dials:
            _reject(live.incoming, 503, "No Trunk Available")
            await self._finish(live, CallStatus.FAILED, None, reason="503 no trunk")
            return
        await live.call.transition(CallState.RINGING)

        async def attempt(dial: TrunkDial) -> TrunkAttempt:
            callee_leg, callee_offer = await self._offering_leg(live)
            target = trunk_target(dial)
            ringback = self._ringback(live, early_leg=callee_leg)
            setup = asyncio.get_running_loop().call_later(
                self.trunk_setup_timeout, ringback.setup_timed_out
            )
            result = await ring(
                self.ua,
                [target],
                callee_offer,
                ring_timeout=self.ring_timeout,
                caller_gone=ringback.gone_or_silent,
                on_provisional=ringback.provisional,
            )
            setup.cancel()
            await ringback.stop()
            if result.outcome is ForkOutcome.ANSWERED:
                party = Party(destination.number)
                await self._connect(live, callee_leg, result, party, dial.trunk_id)
                return TrunkAttempt(result, 200, silent=False)
            await callee_leg.close()
            live.legs.remove(callee_leg)
            status = result.statuses.get(target.label, 0)
            return TrunkAttempt(result, status, silent=ringback.silent)

        tried = await dial_out(
            self.pbx.trunk_runtime, dials, attempt, gone=live.call.gone, call_id=live.call_id
        )
        if tried.answered is not None:
            return
        if live.call.gone.is_set():
            await self._finish(live, CallStatus.CANCELLED, self._side_of(live))
            return
        last = tried.last.result if tried.last is not None else None
        outcome = last.outcome if last is not None else ForkOutcome.UNAVAILABLE
        if outcome is ForkOutcome.BUSY:
            _reject(live.incoming, 486)
            await self._finish(live, CallStatus.BUSY, None, reason="486 busy")
        elif outcome is ForkOutcome.NO_ANSWER:
            _reject(live.incoming, 480)
            await self._finish(live, CallStatus.NO_ANSWER, None, reason="480 no answer")
        else:
            status = last.status if last is not None and last.status >= 400 else 503
            if status >= 500 or status == 408:
                status = 503
            _reject(live.incoming, status)
            await self._finish(live, CallStatus.FAILED, None, reason=f"{status} trunk failure")

    # --- media and answer ----------------------------------------------------------------

    def _ringback(self, live: LiveCall, *, early_leg: CallLeg | None = None) -> Ringback:
        return Ringback(
            self.media,
            live.incoming,
            live.caller_leg,
            live.conversation,
            live.call.gone,
            outside_caller=live.call.direction is CallDirection.INBOUND,
            early_leg=early_leg,
        )

    def _media_host(self, local_host: str) -> str:
        """The address our SDP gives: the public one when the node is behind NAT."""
        if self.settings.sip_public_host:
            return self.settings.sip_public_host
        if local_host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is not an address
            return self.settings.host
        return local_host

    async def _leg_hangup(self, leg: CallLeg) -> None:
        await leg.bye()

    async def _answer_caller(self, live: LiveCall) -> Dialog | None:
        """Answer the caller for an application (once); returns the new dialog, or None if the
        caller was answered already."""
        leg = live.caller_leg
        if leg.answered:
            return None
        # the IVR or voicemail will listen for keys: in-band too, if the caller has no
        # telephone-event
        leg.inband_dtmf = True
        if leg.negotiated is not None and leg.negotiated.telephone_event is None:
            await self.media.update_endpoint(
                leg.endpoint_id,
                endpoint_spec(leg.negotiated, media_timeout=self.media_timeout, inband_dtmf=True),
            )
        if live.incoming.answered:  # the caller's CANCEL came first (487 sent)
            raise _CallerGone
        dialog = live.incoming.answer(leg.answer_body)
        leg.attach(dialog)
        # an answered caller who hangs up (during the IVR, while we ring) is gone too
        watcher = watch(leg.hung_up)
        watcher.add_done_callback(lambda _t: live.call.gone.set())
        live.watchers.append(watcher)
        return dialog

    async def _offering_leg(self, live: LiveCall) -> tuple[CallLeg, bytes]:
        """The callee-side endpoint and our offer to the callee's devices."""
        leg, offer = await self.offering_leg(live.call_id)
        live.legs.append(leg)
        return leg, offer

    async def offering_leg(self, call_id: str) -> tuple[CallLeg, bytes]:
        """A leg to call someone with: its endpoint, and our offer (its address)."""
        info = await self.media.create_endpoint(EndpointSpec(media_timeout=self.media_timeout))
        session = SdpSession(LocalMedia(self._media_host(info.local[0]), info.local[1]))
        leg = CallLeg(
            call_id,
            self.media,
            self.media_events,
            info,
            session,
            media_timeout=self.media_timeout,
        )
        leg.hangup_handler = self._leg_hangup
        return leg, make_offer(session)

    async def _connect(
        self,
        live: LiveCall,
        callee_leg: CallLeg,
        result: ForkResult,
        answered_by: Party | None,
        trunk_id: uuid.UUID | None,
    ) -> None:
        """The callee answered: point its endpoint at its answer, relay it with the caller in
        the conversation, answer the caller, and run until either side hangs up."""
        assert result.dialog is not None
        assert result.response is not None
        call, caller_leg, conversation = live.call, live.caller_leg, live.conversation
        callee_leg.attach(result.dialog)
        try:
            negotiated = read_answer(callee_leg.session, result.response.body)
            await self.media.update_endpoint(
                callee_leg.endpoint_id,
                endpoint_spec(negotiated, media_timeout=self.media_timeout),
            )
        except (SdpRefused, MediaError) as error:
            log.info("callee's answer on %s unusable: %s", call.call_id, error)
            await callee_leg.bye()
            _reject(live.incoming, 488, reason_phrase(error))
            await self._finish(live, CallStatus.FAILED, HangupSide.SYSTEM, reason="488 callee SDP")
            return
        if call.gone.is_set() or (caller_leg.answered and caller_leg.hung_up.is_set()):
            await callee_leg.bye()
            await self._finish(live, CallStatus.CANCELLED, HangupSide.CALLER)
            return
        await caller_leg.stop_playing()
        # relay before the caller's 200, so no first word is lost
        await conversation.add(callee_leg)
        conversation.start()
        if not caller_leg.answered:
            caller_leg.attach(live.incoming.answer(caller_leg.answer_body))
        loop = asyncio.get_running_loop()
        answered = loop.time()
        await call.transition(
            CallState.CONNECTED,
            answered_by=answered_by,
            trunk_id=trunk_id,
            dialogs=[caller_leg.dialog, callee_leg.dialog],
        )
        limit: TalkLimit | None = None
        if call.allowed_seconds is not None:
            # counted from the answer, not from when the policy replied (database time)
            remaining = call.allowed_seconds - (loop.time() - answered)
            limit = TalkLimit(caller_leg, remaining, lambda: conversation.end("talk-time limit"))
            limit.start()
        try:
            ended_by = await conversation.wait_end()
        finally:
            if limit is not None:
                limit.cancel()
        await conversation.dissolve()
        if ended_by is None:
            await self._finish(
                live, CallStatus.ANSWERED, HangupSide.SYSTEM, reason=conversation.system_reason
            )
            return
        side = HangupSide.CALLER if ended_by is caller_leg else HangupSide.CALLEE
        await self._finish(live, CallStatus.ANSWERED, side)

    def _side_of(self, live: LiveCall) -> HangupSide:
        if live.call.stopping:
            return HangupSide.SYSTEM
        leg = live.caller_leg
        if live.incoming.cancelled.is_set():
            return HangupSide.CALLER
        if leg.dialog is not None and leg.dialog.termination_reason == "remote BYE":
            return HangupSide.CALLER
        return HangupSide.SYSTEM

    async def _finish(
        self,
        live: LiveCall,
        status: CallStatus,
        side: HangupSide | None,
        *,
        reason: str | None = None,
        rule: str | None = None,
    ) -> None:
        """End the call (its observers close the record and the bill), end every leg, free
        every endpoint."""
        if not live.incoming.answered:
            with contextlib.suppress(Exception):
                _reject(live.incoming, 503 if live.call.stopping else 500)
        for leg in live.legs:
            leg.bye_soon()
        for task in live.watchers:
            task.cancel()
        live.call.gone.set()
        await live.call.end(status, side, reason=reason, rule=rule)
        for leg in live.legs:
            await leg.close()
        live.legs.clear()


def _reject(incoming: IncomingCall, status: int, reason: str | None = None) -> None:
    """A final answer, unless the caller's CANCEL already brought one (487)."""
    if not incoming.answered:
        incoming.reject(status, reason)


def _refuse_stranger(incoming: IncomingCall, status: int, reason: str | None = None) -> None:
    """Refuse an INVITE nobody has authenticated yet once, statelessly: a stateful refusal over
    UDP is resent ten times for a forged source that never ACKs (docs/pbx/devices.md)."""
    if not incoming.answered:
        incoming.send_statelessly(incoming.create_response(status, reason))


def _new_call_id() -> str:
    """128 random bits as 32 hex digits (a uuid4's hex form without building a UUID)."""
    return secrets.token_hex(16)


def _number_of(uri: object, area_code: str | None = None) -> str | None:
    """The E.164 number a trunk's URI carries (user part of sip:, or tel:)."""
    raw: str | None = None
    if isinstance(uri, SipUri):
        raw = uri.user
    elif isinstance(uri, TelUri):
        raw = uri.number
    if not raw:
        return None
    try:
        return to_e164(raw, area_code=("0" + area_code) if area_code else None)
    except ValueError:
        return raw if raw.startswith("+") else None
