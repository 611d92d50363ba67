"""The call engine: every new INVITE the PBX receives becomes a call here (a B2BUA).

Who is calling decides the path:

- **from a trunk** (by source address, `Trunks.inbound_trunk`): an outside call. The called number
  (E.164) picks the enterprise and the flow: its main number answers with the IVR and then rings
  the chosen user or all receptionists (ADM-10); a direct line rings its user; an unknown number
  gets 404.
- **from a device**: the Request-URI's domain picks the enterprise (unknown: 404); the request
  must carry Digest credentials of one of that enterprise's devices (`DeviceAuth` challenges
  otherwise: 407), and the caller is that device's user, whatever the From header says. The dial
  plan classifies what was dialled; then *every* such call passes the outbound policy before
  anything is sent anywhere. A refused call hears why (early media) and is recorded as REFUSED
  with the rule. An extension rings that user; anything else leaves through the enterprise's
  trunks, in turn, with the caller ID the dial plan chooses.

Ringing a user forks to all their registered devices (`fork.py`); the answered call is bridged
through the media engine (`bridge.py`); each leg is a `CallLeg` (`legs.py`), which is also what
the IVR and voicemail talk to. Every call leaves one record (`record.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from zongji.directory.numbers import NumberRoute, RouteKind
from zongji.directory.service_period import local_today
from zongji.media import (
    EndpointSpec,
    MediaError,
    MediaServer,
    PlayItem,
    Prompt,
    Tone,
    ToneKind,
)
from zongji.pbx.calls.bridge import Bridge
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.fork import (
    DeviceFlows,
    ForkOutcome,
    ForkResult,
    ForkTarget,
    device_target,
    ring,
)
from zongji.pbx.calls.ivr import main_number_ivr
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.limits import TalkLimit
from zongji.pbx.calls.record import CallLog
from zongji.pbx.calls.sdp import (
    SdpRefused,
    answer_offer,
    endpoint_spec,
    make_offer,
    read_answer,
    read_sdp,
)
from zongji.pbx.contracts import (
    GREETING_FEATURE_CODE,
    CallDirection,
    CallRecords,
    CallStatus,
    Device,
    DeviceAuth,
    DialError,
    DialKind,
    Dialled,
    HangupSide,
    Location,
    OutboundPolicy,
    Party,
    PolicyDecision,
    Subscriber,
    TelephonyView,
    TenantLine,
    Trunks,
    Voicemail,
    VoicemailOffer,
)
from zongji.pbx.dialling import caller_id_for, parse_dialled
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.phone import to_e164
from zongji.sip import (
    IncomingCall,
    LocalMedia,
    NameAddress,
    NegotiatedAudio,
    Response,
    SdpSession,
    SessionDescription,
    SipUri,
    TelUri,
    UserAgent,
    parse_address,
    parse_uri,
)

log = logging.getLogger(__name__)


class NumberRouter(Protocol):
    async def route(self, called: str) -> NumberRoute | None: ...


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


@dataclass
class LiveCall:
    """What the engine knows of one call in progress, for shutdown and for tests."""

    call_id: str
    log: CallLog
    incoming: IncomingCall
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # caller CANCEL or shutdown
    stopping: bool = False
    legs: list[CallLeg] = field(default_factory=list)
    bridge: Bridge | None = None
    caller_leg: CallLeg | None = None
    caller_answered: bool = False
    authorised: bool = False
    outside_caller: bool = False
    watchers: list[asyncio.Task[Any]] = field(default_factory=list)


class CallEngine:
    def __init__(
        self,
        ua: UserAgent,
        media: MediaServer,
        pbx: CallServices,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.ua = ua
        self.media = media
        self.pbx = pbx
        self.settings = settings
        self.clock = clock
        self.router = MediaEventRouter(media)
        #: live calls by the engine's call id (also the record's and the policy's): our own,
        #: never the device's Call-ID, which a device could reuse to collide with another call
        self.calls: dict[str, LiveCall] = {}
        self._by_incoming: dict[int, LiveCall] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ring_timeout = settings.ring_timeout
        self.media_timeout: float | None = settings.media_timeout or None
        self.trunk_setup_timeout = settings.trunk_setup_timeout

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.router.start()

    async def stop(self) -> None:
        """Hang up every live call (records closed with hang-up side SYSTEM)."""
        calls = list(self.calls.values())
        for call in calls:
            call.stopping = True
            call.gone.set()
            if call.bridge is not None:
                call.bridge.end("shutdown")
            elif call.caller_leg is not None and call.caller_answered:
                call.caller_leg.hung_up.set()
        handlers = [t for t in self._tasks if not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=5.0)
        for call in list(self.calls.values()):
            if not call.incoming.answered:
                with contextlib.suppress(Exception):
                    _reject(call.incoming, 503, "Service Unavailable")
            for leg in call.legs:
                with contextlib.suppress(Exception):
                    await leg.bye()
                await leg.close()
            await call.log.close(CallStatus.FAILED, HangupSide.SYSTEM, reason="shutdown")
        self.calls.clear()
        self._by_incoming.clear()
        await self.router.stop()

    # --- entry ---------------------------------------------------------------------------

    async def handle_invite(self, incoming: IncomingCall) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.pbx.trunk_runtime.inbound_trunk(incoming.source) is not None:
                await self._from_trunk(incoming)
            else:
                await self._from_device(incoming)
        except _CallerGone:
            call = self._by_incoming.get(id(incoming))
            if call is not None:
                await self._finish(call, CallStatus.CANCELLED, HangupSide.CALLER)
        except Exception:
            log.exception("call with Call-ID %s failed", incoming.request.call_id)
            if not incoming.answered:
                with contextlib.suppress(Exception):
                    _reject(incoming, 500)
            call = self._by_incoming.get(id(incoming))
            if call is not None:
                await self._finish(call, CallStatus.FAILED, HangupSide.SYSTEM, reason="error")
        finally:
            call = self._by_incoming.pop(id(incoming), None)
            if call is not None:
                self.calls.pop(call.call_id, None)
                await self._release(call)
            if task is not None:
                self._tasks.discard(task)

    async def _release(self, call: LiveCall) -> None:
        """Whatever path the call took, nothing of it outlives it: watchers, endpoints, and a
        record left open (which would be a bug) is closed as failed."""
        for watcher in call.watchers:
            watcher.cancel()
        for leg in call.legs:
            with contextlib.suppress(Exception):
                await leg.bye()
            await leg.close()
        call.legs.clear()
        if call.log.ended is None:
            await call.log.close(CallStatus.FAILED, HangupSide.SYSTEM, reason="internal error")

    # --- calls from devices --------------------------------------------------------------

    async def _from_device(self, incoming: IncomingCall) -> None:
        request = incoming.request
        uri = request.uri
        if not isinstance(uri, SipUri) or not uri.user:
            _refuse_stranger(incoming, 404 if isinstance(uri, SipUri) else 416)
            return
        tenant = await self.pbx.view.tenant_by_domain(uri.host.lower())
        if tenant is None:
            _refuse_stranger(incoming, 404, "Unknown Domain")
            return
        device = await self.pbx.device_auth.authenticate(incoming, tenant)
        if device is None:
            return  # challenged or refused by DeviceAuth
        caller = await self.pbx.view.subscriber(tenant.tenant_id, device.user_id)
        if caller is None:
            _reject(incoming, 403, "Unknown User")
            return
        try:
            offer = read_sdp(incoming.offer, request.headers.get("content-type"))
            answer_offer(_probe_session(), offer)
        except SdpRefused as error:
            _reject(incoming, 488, _reason(error))
            return
        if uri.user == GREETING_FEATURE_CODE:
            await self._record_greeting(incoming, tenant, caller, device, offer)
            return
        try:
            dialled: Dialled = parse_dialled(uri.user, tenant)
        except DialError as error:
            status = 484 if "incomplete" in error.code or "short" in error.code else 404
            _reject(incoming, status, _reason(error.reason))
            return

        internal = dialled.kind is DialKind.EXTENSION
        callee: Subscriber | None = None
        if internal:
            callee = await self.pbx.view.by_extension(tenant.tenant_id, dialled.number)
        caller_party = Party(caller.extension or device.username, caller.user_id, caller.name)
        callee_party = Party(
            dialled.number,
            callee.user_id if callee else None,
            callee.name if callee else None,
        )
        # the enterprise number an outside callee will see: recorded as the outside line's
        caller_id = None if internal else caller_id_for(caller, tenant)
        call = self._new_call(
            incoming,
            CallLog.new(
                self.pbx.records,
                self.clock,
                call_id=_new_call_id(),
                tenant_id=tenant.tenant_id,
                direction=CallDirection.INTERNAL if internal else CallDirection.OUTBOUND,
                caller=caller_party,
                callee=callee_party,
                outside_number=caller_id,
            ),
        )
        await call.log.open()
        decision: PolicyDecision = await self.pbx.policy.authorise(
            call.call_id, tenant, caller, dialled
        )
        if not decision.allowed:
            await self._refuse(call, offer, decision)
            with contextlib.suppress(Exception):
                await self.pbx.policy.ended(call.call_id, 0)
            return
        call.authorised = True
        try:
            if internal:
                if callee is None:
                    _reject(incoming, 404, "No Such Extension")
                    await call.log.close(CallStatus.FAILED, None, reason="404 no such extension")
                    return
                await self._ring_users(
                    call, tenant, offer, [callee], caller_party, voicemail_for=callee
                )
            else:
                await self._outbound(call, tenant, offer, caller_id, dialled)
        finally:
            with contextlib.suppress(Exception):
                await self.pbx.policy.ended(call.call_id, call.log.talk_seconds)

    async def _record_greeting(
        self,
        incoming: IncomingCall,
        tenant: TenantLine,
        caller: Subscriber,
        device: Device,
        offer: SessionDescription,
    ) -> None:
        """The greeting feature code: answer, and let voicemail record the user's greeting."""
        me = Party(caller.extension or device.username, caller.user_id, caller.name)
        call = self._new_call(
            incoming,
            CallLog.new(
                self.pbx.records,
                self.clock,
                call_id=_new_call_id(),
                tenant_id=tenant.tenant_id,
                direction=CallDirection.INTERNAL,
                caller=me,
                callee=Party(GREETING_FEATURE_CODE, name="voicemail greeting"),
            ),
        )
        await call.log.open()
        leg = await self._answer_caller(call, offer)
        await call.log.answered()
        with contextlib.suppress(MediaError):
            await self.pbx.voicemail.record_greeting(leg, tenant.tenant_id, caller.user_id)
        await self._finish(call, CallStatus.ANSWERED, self._side_of(call))

    async def _refuse(
        self, call: LiveCall, offer: SessionDescription, decision: PolicyDecision
    ) -> None:
        """Say why (as early media, so the caller is not billed) and end with 403."""
        incoming = call.incoming
        if decision.prompt:
            leg = await self._caller_leg(call, offer)
            _progress(incoming, leg.answer_body)
            await _play_unless_gone(leg, [Prompt(decision.prompt)], call.gone, limit=20.0)
        if not incoming.answered:
            _reject(incoming, 403, _reason(decision.rule or "Forbidden"))
        await self._finish(
            call,
            CallStatus.REFUSED,
            HangupSide.SYSTEM,
            reason="403 refused by policy",
            rule=decision.rule,
        )

    # --- calls from trunks ---------------------------------------------------------------

    async def _from_trunk(self, incoming: IncomingCall) -> None:
        request = incoming.request
        trunk_id = self.pbx.trunk_runtime.inbound_trunk(incoming.source)
        called = _number_of(request.uri) or _number_of(request.to_addr.uri)
        if called is None:
            _reject(incoming, 404)
            return
        route = await self.pbx.numbers.route(called)
        tenant = await self.pbx.view.tenant(route.tenant_id) if route is not None else None
        if route is None or tenant is None:
            _reject(incoming, 404, "Unknown Number")
            return
        if not tenant.active:
            _reject(incoming, 480, "Temporarily Unavailable")
            return
        try:
            offer = read_sdp(incoming.offer, request.headers.get("content-type"))
            answer_offer(_probe_session(), offer)
        except SdpRefused as error:
            _reject(incoming, 488, _reason(error))
            return
        caller_number = _number_of(request.from_addr.uri, tenant.area_code) or "anonymous"
        user: Subscriber | None = None
        if route.kind is RouteKind.DIRECT_LINE and route.user_id is not None:
            user = await self.pbx.view.subscriber(tenant.tenant_id, route.user_id)
            if user is None:
                _reject(incoming, 404, "Unknown Number")
                return
        callee_party = (
            Party(user.extension or called, user.user_id, user.name)
            if user is not None
            else Party(called)
        )
        caller_party = Party(caller_number)
        call = self._new_call(
            incoming,
            CallLog.new(
                self.pbx.records,
                self.clock,
                call_id=_new_call_id(),
                tenant_id=tenant.tenant_id,
                direction=CallDirection.INBOUND,
                caller=caller_party,
                callee=callee_party,
                trunk_id=trunk_id,
                outside_number=called,
            ),
        )
        call.outside_caller = True
        await call.log.open()
        if user is not None:
            await self._ring_users(call, tenant, offer, [user], caller_party, voicemail_for=user)
            return
        await self._main_number(call, tenant, offer, caller_party)

    async def _main_number(
        self, call: LiveCall, tenant: TenantLine, offer: SessionDescription, caller: Party
    ) -> None:
        """The main number: answer, let the IVR find out whom to ring, ring them."""
        # The record's answer is the person's, not the IVR's: answered_at and answered_by are
        # set when a user picks up (the records service keeps only the first answer).
        leg = await self._answer_caller(call, offer)
        choice = await main_number_ivr(leg, tenant, self.pbx.view)
        subscriber: Subscriber | None = choice.subscriber
        abandoned = subscriber is None and not choice.receptionists
        if abandoned or leg.hung_up.is_set() or call.gone.is_set():
            await self._finish(call, CallStatus.CANCELLED, self._side_of(call))
            return
        if subscriber is not None:
            await call.log.routed(
                Party(subscriber.extension or "", subscriber.user_id, subscriber.name)
            )
            users: Sequence[Subscriber] = [subscriber]
        else:
            users = await self.pbx.view.receptionists(tenant.tenant_id)
        await self._ring_users(call, tenant, offer, list(users), caller, voicemail_for=subscriber)

    # --- ringing users -------------------------------------------------------------------

    async def _ring_users(
        self,
        call: LiveCall,
        tenant: TenantLine,
        offer: SessionDescription,
        users: Sequence[Subscriber],
        caller: Party,
        *,
        voicemail_for: Subscriber | None,
    ) -> None:
        # Users out of service (suspended, outside validity) are not put through, and their
        # voicemail takes no message: they could not collect it. The caller hears "unreachable".
        today = local_today(self.clock.now(), tenant.timezone)
        users = [user for user in users if user.in_service(today)]
        if voicemail_for is not None and not voicemail_for.in_service(today):
            voicemail_for = None
        targets: list[ForkTarget] = []
        owners: dict[str, Subscriber] = {}
        from_ = NameAddress(
            parse_uri(f"sip:{_user_part(caller.number)}@{tenant.sip_domain}"),
            display_name=caller.name,
        )
        for user in users:
            to = NameAddress(
                parse_uri(
                    f"sip:{_user_part(user.extension or str(user.user_id))}@{tenant.sip_domain}"
                ),
                display_name=user.name,
            )
            for binding in await self.pbx.location.bindings(tenant.tenant_id, user.user_id):
                label = f"{binding.device.credential_id}:{binding.uri}"
                flow = self.pbx.flows.flow_for(binding)
                target = device_target(binding, flow, to=to, from_=from_, label=label)
                if target is not None:
                    owners[label] = user
                    targets.append(target)
        caller_leg = await self._caller_leg(call, offer)
        if not targets:
            await self._not_reached(call, tenant, caller, voicemail_for, ForkOutcome.UNAVAILABLE)
            return
        callee_leg, callee_offer = await self._offering_leg(call)
        ringing = _Ringing(self, call, caller_leg)
        result = await ring(
            self.ua,
            targets,
            callee_offer,
            ring_timeout=self.ring_timeout,
            caller_gone=call.gone,
            on_provisional=ringing.provisional,
        )
        await ringing.stop()
        if result.outcome is ForkOutcome.ANSWERED:
            answered_by = owners.get(result.target.label) if result.target else None
            party = (
                Party(answered_by.extension or "", answered_by.user_id, answered_by.name)
                if answered_by is not None
                else None
            )
            await self._connect(call, caller_leg, callee_leg, result, party, None)
            return
        await callee_leg.close()
        call.legs.remove(callee_leg)
        await self._not_reached(call, tenant, caller, voicemail_for, result.outcome, result)

    async def _not_reached(
        self,
        call: LiveCall,
        tenant: TenantLine,
        caller: Party,
        voicemail_for: Subscriber | None,
        outcome: ForkOutcome,
        result: ForkResult | None = None,
    ) -> None:
        """Nobody answered: voicemail if the user's box takes it, else the right failure."""
        if outcome is ForkOutcome.CANCELLED or call.gone.is_set():
            await self._finish(call, CallStatus.CANCELLED, self._side_of(call))
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
        if voicemail_for is not None and await self._voicemail_accepts(tenant, voicemail_for):
            await self._voicemail(call, tenant, voicemail_for, caller)
            return
        if call.caller_answered and call.caller_leg is not None:
            # an outside caller already talking to the IVR: say so, then hang up
            await call.caller_leg.play([Prompt(prompt)])
            await self._finish(call, status, HangupSide.SYSTEM, reason=reason)
            return
        if not call.incoming.answered:
            _reject(call.incoming, sip_status)
        await self._finish(call, status, None, reason=reason)

    async def _voicemail_accepts(self, tenant: TenantLine, user: Subscriber) -> bool:
        try:
            return await self.pbx.voicemail.accepts(tenant.tenant_id, user.user_id)
        except Exception:
            log.exception("voicemail check failed")
            return False

    async def _voicemail(
        self, call: LiveCall, tenant: TenantLine, user: Subscriber, caller: Party
    ) -> None:
        leg = call.caller_leg
        assert leg is not None
        if not call.caller_answered:
            leg = await self._answer_caller(call, None)
        await leg.stop_playing()
        offer = VoicemailOffer(
            tenant.tenant_id, user.user_id, call.call_id, caller, self.clock.now()
        )
        with contextlib.suppress(MediaError):
            await self.pbx.voicemail.take_message(leg, offer)
        await self._finish(call, CallStatus.VOICEMAIL, self._side_of(call), reason="voicemail")

    # --- calls out through trunks --------------------------------------------------------

    async def _outbound(
        self,
        call: LiveCall,
        tenant: TenantLine,
        offer: SessionDescription,
        caller_id: str | None,
        dialled: Dialled,
    ) -> None:
        dials = list(self.pbx.trunk_runtime.dials(tenant, dialled.number, caller_id or ""))
        caller_leg = await self._caller_leg(call, offer)
        if not dials:
            _reject(call.incoming, 503, "No Trunk Available")
            await self._finish(call, CallStatus.FAILED, None, reason="503 no trunk")
            return
        last: ForkResult | None = None
        for dial in dials:
            if call.gone.is_set():
                break
            callee_leg, callee_offer = await self._offering_leg(call)
            target = ForkTarget(
                request_uri=dial.request_uri,
                to=NameAddress(parse_uri(dial.request_uri)),
                from_=parse_address(dial.from_uri),
                destination=dial.destination,
                credentials=dial.credentials,
                headers=tuple(dial.headers),
                label=str(dial.trunk_id),
            )
            ringing = _Ringing(self, call, caller_leg, early_leg=callee_leg)
            setup = asyncio.get_running_loop().call_later(
                self.trunk_setup_timeout, ringing.setup_timed_out
            )
            result = await ring(
                self.ua,
                [target],
                callee_offer,
                ring_timeout=self.ring_timeout,
                caller_gone=ringing.gone_or_silent,
                on_provisional=ringing.provisional,
            )
            setup.cancel()
            await ringing.stop()
            if result.outcome is ForkOutcome.ANSWERED:
                await self._connect(
                    call,
                    caller_leg,
                    callee_leg,
                    result,
                    Party(dialled.number),
                    dial.trunk_id,
                )
                return
            await callee_leg.close()
            call.legs.remove(callee_leg)
            status = result.statuses.get(target.label, 0)
            trunk_fault = ringing.silent or status in (0, 408) or 500 <= status < 600
            if result.outcome is ForkOutcome.CANCELLED and not ringing.silent:
                break
            last = result
            if not trunk_fault:
                break
            log.info(
                "trunk %s failed for %s (%s); trying the next",
                dial.trunk_name,
                call.call_id,
                status,
            )
            self.pbx.trunk_runtime.failed(dial.trunk_id)
        if call.gone.is_set():
            await self._finish(call, CallStatus.CANCELLED, self._side_of(call))
            return
        outcome = last.outcome if last is not None else ForkOutcome.UNAVAILABLE
        if outcome is ForkOutcome.BUSY:
            _reject(call.incoming, 486)
            await self._finish(call, CallStatus.BUSY, None, reason="486 busy")
        elif outcome is ForkOutcome.NO_ANSWER:
            _reject(call.incoming, 480)
            await self._finish(call, CallStatus.NO_ANSWER, None, reason="480 no answer")
        else:
            status = last.status if last is not None and last.status >= 400 else 503
            if status >= 500 or status == 408:
                status = 503
            _reject(call.incoming, status)
            await self._finish(call, CallStatus.FAILED, None, reason=f"{status} trunk failure")

    # --- media and answer ----------------------------------------------------------------

    def _new_call(self, incoming: IncomingCall, record: CallLog) -> LiveCall:
        call = LiveCall(record.call_id, record, incoming)
        self.calls[call.call_id] = call
        self._by_incoming[id(incoming)] = call
        task = asyncio.get_running_loop().create_task(incoming.cancelled.wait())
        task.add_done_callback(lambda _t: call.gone.set())
        call.watchers.append(task)
        return call

    def _media_host(self, local_host: str) -> str:
        """The address our SDP gives: the public one when the node is behind NAT."""
        if self.settings.sip_public_host:
            return self.settings.sip_public_host
        if local_host in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind is not an address
            return self.settings.host
        return local_host

    async def _caller_leg(self, call: LiveCall, offer: SessionDescription | None) -> _CallerLeg:
        """The caller's endpoint and our answer to its offer (made once per call)."""
        if call.caller_leg is not None:
            assert isinstance(call.caller_leg, _CallerLeg)
            return call.caller_leg
        assert offer is not None
        info = await self.media.create_endpoint(EndpointSpec(media_timeout=self.media_timeout))
        session = SdpSession(LocalMedia(self._media_host(info.local[0]), info.local[1]))
        leg = _CallerLeg(
            call.call_id, self.media, self.router, info, session, media_timeout=self.media_timeout
        )
        call.legs.append(leg)
        call.caller_leg = leg
        body, negotiated = answer_offer(session, offer)
        await self.media.update_endpoint(
            info.id, endpoint_spec(negotiated, media_timeout=self.media_timeout)
        )
        leg.answer_body = body
        leg.negotiated = negotiated
        leg.hangup_handler = self._leg_hangup
        return leg

    async def _leg_hangup(self, leg: CallLeg) -> None:
        await leg.bye()

    async def _answer_caller(self, call: LiveCall, offer: SessionDescription | None) -> _CallerLeg:
        leg = await self._caller_leg(call, offer)
        if not call.caller_answered:
            # the IVR or voicemail will listen for keys: in-band too, if the caller has no
            # telephone-event
            leg.inband_dtmf = True
            if leg.negotiated is not None and leg.negotiated.telephone_event is None:
                await self.media.update_endpoint(
                    leg.endpoint_id,
                    endpoint_spec(
                        leg.negotiated, media_timeout=self.media_timeout, inband_dtmf=True
                    ),
                )
            if call.incoming.answered:  # the caller's CANCEL came first (487 sent)
                raise _CallerGone
            dialog = call.incoming.answer(leg.answer_body)
            leg.attach(dialog)
            call.caller_answered = True
            await call.log.caller_answered(dialog)
            # an answered caller who hangs up (during the IVR, while we ring) is gone too
            watcher = asyncio.get_running_loop().create_task(leg.hung_up.wait())
            watcher.add_done_callback(lambda _t: call.gone.set())
            call.watchers.append(watcher)
        return leg

    async def _offering_leg(self, call: LiveCall) -> tuple[CallLeg, bytes]:
        """The callee-side endpoint and our offer to the callee's devices."""
        info = await self.media.create_endpoint(EndpointSpec(media_timeout=self.media_timeout))
        session = SdpSession(LocalMedia(self._media_host(info.local[0]), info.local[1]))
        leg = CallLeg(
            call.call_id, self.media, self.router, info, session, media_timeout=self.media_timeout
        )
        leg.hangup_handler = self._leg_hangup
        call.legs.append(leg)
        return leg, make_offer(session)

    async def _connect(
        self,
        call: LiveCall,
        caller_leg: _CallerLeg,
        callee_leg: CallLeg,
        result: ForkResult,
        answered_by: Party | None,
        trunk_id: uuid.UUID | None,
    ) -> None:
        """The callee answered: point its endpoint at its answer, answer the caller, bridge."""
        assert result.dialog is not None
        assert result.response is not None
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
            if not call.incoming.answered:
                _reject(call.incoming, 488, _reason(error))
            await self._finish(call, CallStatus.FAILED, HangupSide.SYSTEM, reason="488 callee SDP")
            return
        if call.gone.is_set() or (call.caller_answered and caller_leg.hung_up.is_set()):
            await callee_leg.bye()
            await self._finish(call, CallStatus.CANCELLED, HangupSide.CALLER)
            return
        await caller_leg.stop_playing()
        bridge = Bridge(self.media, caller_leg, callee_leg)
        call.bridge = bridge
        await bridge.connect()
        if not call.caller_answered:
            dialog = call.incoming.answer(caller_leg.answer_body)
            caller_leg.attach(dialog)
            call.caller_answered = True
        loop = asyncio.get_running_loop()
        answered = loop.time()
        await call.log.answered(answered_by, trunk_id, [caller_leg.dialog, callee_leg.dialog])
        limit: TalkLimit | None = None
        if call.authorised:
            seconds = await self.pbx.policy.answered(call.call_id)
            if seconds is not None:
                # counted from the answer, not from when the policy replied (database time)
                remaining = seconds - (loop.time() - answered)
                limit = TalkLimit(caller_leg, remaining, lambda: bridge.end("talk-time limit"))
                limit.start()
        try:
            side = await bridge.run()
        finally:
            if limit is not None:
                limit.cancel()
        reason = bridge.system_reason if side is HangupSide.SYSTEM else None
        await self._finish(call, CallStatus.ANSWERED, side, reason=reason)

    def _side_of(self, call: LiveCall) -> HangupSide:
        if call.stopping:
            return HangupSide.SYSTEM
        leg = call.caller_leg
        if call.incoming.cancelled.is_set():
            return HangupSide.CALLER
        if (
            leg is not None
            and leg.dialog is not None
            and leg.dialog.termination_reason == "remote BYE"
        ):
            return HangupSide.CALLER
        return HangupSide.SYSTEM

    async def _finish(
        self,
        call: LiveCall,
        status: CallStatus,
        side: HangupSide | None,
        *,
        reason: str | None = None,
        rule: str | None = None,
    ) -> None:
        """Close the record, end every leg, free every endpoint."""
        if call.stopping and side is not None:
            side = HangupSide.SYSTEM
        if not call.incoming.answered:
            with contextlib.suppress(Exception):
                _reject(call.incoming, 503 if call.stopping else 500)
        for leg in call.legs:
            leg.bye_soon()
        for task in call.watchers:
            task.cancel()
        await call.log.close(status, side, reason=reason, rule=rule)
        for leg in call.legs:
            await leg.close()
        call.legs.clear()


class _CallerLeg(CallLeg):
    """The caller's leg: it also holds our SDP answer to the caller's offer."""

    answer_body: bytes = b""
    negotiated: NegotiatedAudio | None = None


class _Ringing:
    """What the caller hears while the callee rings: the 180 relayed (a phone makes its own
    ringback); for outside callers and callers the PBX already answered, a ringback tone from the
    caller's endpoint; for a trunk's 183 with SDP, the carrier's own early media bridged through."""

    def __init__(
        self,
        engine: CallEngine,
        call: LiveCall,
        caller_leg: _CallerLeg,
        *,
        early_leg: CallLeg | None = None,
    ) -> None:
        self.engine = engine
        self.call = call
        self.caller_leg = caller_leg
        self.early_leg = early_leg
        self.rang = False
        self.silent = False
        self.responded = False
        self.gone_or_silent = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._watch = asyncio.get_running_loop().create_task(self._follow_gone())

    async def _follow_gone(self) -> None:
        await self.call.gone.wait()
        self.gone_or_silent.set()

    def setup_timed_out(self) -> None:
        """A trunk gave no response at all in time: give up on it (failover)."""
        if not self.responded:
            self.silent = True
            self.gone_or_silent.set()

    def provisional(self, target: ForkTarget, response: Response, dialog: object) -> None:
        self.responded = True
        if response.status == 100:
            return
        if self.early_leg is not None and response.status == 183 and response.body:
            self._spawn(self._early_media(response.body))
            return
        if self.rang:
            return
        self.rang = True
        self._spawn(self._ringback())

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def _ringback(self) -> None:
        call = self.call
        if call.incoming.answered and not call.caller_answered:
            return
        if call.caller_answered:
            await self.caller_leg.start_playing([Tone(ToneKind.RINGBACK)], loop=True)
            return
        if call.outside_caller:
            _progress(call.incoming, self.caller_leg.answer_body)
            await self.caller_leg.start_playing([Tone(ToneKind.RINGBACK)], loop=True)
        else:
            if not call.incoming.answered:
                call.incoming.ring(180)

    async def _early_media(self, body: bytes) -> None:
        """The far end's own early media (a carrier's ringback or announcement) to the caller."""
        leg = self.early_leg
        assert leg is not None
        try:
            negotiated = read_answer(leg.session, body)
            await self.engine.media.update_endpoint(
                leg.endpoint_id, endpoint_spec(negotiated, media_timeout=None)
            )
            await self.engine.media.connect(self.caller_leg.endpoint_id, leg.endpoint_id)
        except (SdpRefused, MediaError):
            return
        if not self.call.incoming.answered and not self.rang:
            _progress(self.call.incoming, self.caller_leg.answer_body)
        self.rang = True

    async def stop(self) -> None:
        self._watch.cancel()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        if self.early_leg is not None:
            with contextlib.suppress(MediaError):
                await self.engine.media.disconnect(self.caller_leg.endpoint_id)


async def _play_unless_gone(
    leg: CallLeg, items: Sequence[PlayItem], gone: asyncio.Event, *, limit: float
) -> None:
    """Play to a caller not yet answered (early media) until done, or until it gives up."""
    played = asyncio.ensure_future(leg.play(items))
    cancelled = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({played, cancelled}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        played.cancel()
        cancelled.cancel()


def _reject(incoming: IncomingCall, status: int, reason: str | None = None) -> None:
    """A final answer, unless the caller's CANCEL already brought one (487)."""
    if not incoming.answered:
        incoming.reject(status, reason)


def _refuse_stranger(incoming: IncomingCall, status: int, reason: str | None = None) -> None:
    """Refuse an INVITE nobody has authenticated yet once, statelessly: a stateful refusal over
    UDP is resent ten times for a forged source that never ACKs (docs/pbx/devices.md)."""
    if not incoming.answered:
        incoming.send_statelessly(incoming.create_response(status, reason))


def _progress(incoming: IncomingCall, body: bytes) -> None:
    """183 with our SDP (early media), unless the call has its final answer already."""
    if not incoming.answered:
        incoming.progress(body)


def _new_call_id() -> str:
    return uuid.uuid4().hex


def _probe_session() -> SdpSession:
    """A throwaway session to check an offer before any media resource is taken for it."""
    return SdpSession(LocalMedia("127.0.0.1", 9))


def _reason(error: object) -> str:
    text = str(error).replace("\r", " ").replace("\n", " ")
    return text[:80] or "Not Acceptable Here"


def _user_part(number: str) -> str:
    return number if number else "anonymous"


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
