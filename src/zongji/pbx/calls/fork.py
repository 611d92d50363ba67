"""Ringing several devices at once (forking by the B2BUA), or one trunk.

A user may have a softphone, a desk phone and the web client registered; a call to them rings all
of them in parallel (CALL-3). The PBX forks itself, one outgoing INVITE per registered contact,
sent on the flow the device registered from (its NAT binding or TCP connection), all offering the
same SDP (the callee-side media endpoint). The first 2xx wins and every other fork gets CANCEL;
a 2xx racing our CANCEL is ACKed and hung up by `OutgoingCall` itself.

Outcome rules: all forks refused with 486/600/603 (or a mix with unreachable devices) is BUSY;
nobody answered within the ring timeout is NO_ANSWER; no fork could even be tried, or every fork
failed otherwise, is UNAVAILABLE; the caller's CANCEL is CANCELLED.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from zongji.pbx.calls.flags import watch
from zongji.pbx.contracts import Binding, Location, Party, Subscriber, TenantLine, TrunkDial
from zongji.sip import (
    CallFailed,
    Credentials,
    Dialog,
    Flow,
    NameAddress,
    OutgoingCall,
    Response,
    SipError,
    TransactionTimeout,
    TransportError,
    UserAgent,
    parse_address,
    parse_uri,
)

log = logging.getLogger(__name__)

#: Final responses that mean "this device/person does not want the call now".
BUSY_STATUSES = frozenset({486, 600, 603})


class ForkOutcome(enum.Enum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"


class DeviceFlows(Protocol):
    """The live flows of the devices registered on this node (the registrar's table,
    `LocationService`): where a binding's flow is found when a request is about to go."""

    def flow_for(self, binding: Binding) -> Flow | None: ...


@dataclass(frozen=True)
class ForkTarget:
    """One INVITE to send: a registered contact, or a trunk."""

    request_uri: str
    to: NameAddress
    from_: NameAddress
    destination: Flow | None = None
    credentials: Credentials | None = None
    headers: Sequence[tuple[str, str]] = ()
    label: str = ""
    pin_flow: bool = False  # a registered device: the whole dialog keeps to its flow (NAT)


def device_target(
    binding: Binding, flow: Flow | None, *, to: NameAddress, from_: NameAddress, label: str
) -> ForkTarget | None:
    """The INVITE for one registered contact of a user; `flow` is the live flow this node holds
    for it (`LocationService.flow_for`), None when it holds none.

    A device that registered directly is sent to on the flow it registered from, and its dialog
    keeps to that flow (a NAT's mapping, a TCP connection it opened). Only the node that holds
    the registration has that flow: a binding of another node without one is not sent to from
    here (None). A device behind proxies that asked to stay on the path (RFC 3327 Path) is sent
    to its Contact with the Path as the Route set, from any node (DESIGN §5): the first proxy is
    the next hop, it knows how to reach the device, and whether the dialog keeps going through it
    is its choice (Record-Route)."""
    if binding.path:
        return ForkTarget(
            request_uri=binding.uri,
            to=to,
            from_=from_,
            headers=tuple(("Route", hop) for hop in binding.path),
            label=label,
        )
    if flow is None:
        log.info(
            "binding %s not rung: its flow (%s) is on node %s",
            binding.uri,
            binding.flow,
            binding.node,
        )
        return None
    return ForkTarget(
        request_uri=binding.uri,
        to=to,
        from_=from_,
        destination=flow,
        label=label,
        pin_flow=True,
    )


def trunk_target(dial: TrunkDial) -> ForkTarget:
    """The INVITE for one way out through one trunk."""
    return ForkTarget(
        request_uri=dial.request_uri,
        to=NameAddress(parse_uri(dial.request_uri)),
        from_=parse_address(dial.from_uri),
        destination=dial.destination,
        credentials=dial.credentials,
        headers=tuple(dial.headers),
        label=str(dial.trunk_id),
    )


async def user_targets(
    location: Location,
    flows: DeviceFlows,
    tenant: TenantLine,
    users: Sequence[Subscriber],
    caller: Party,
    *,
    device: uuid.UUID | None = None,
) -> tuple[list[ForkTarget], dict[str, Subscriber]]:
    """One INVITE per registered contact of each of `users` (only `device`'s, if given: a
    credential id), and whose each one is (by label). A binding whose flow this node does not
    hold is left out (`device_target`).

    The only place call control asks the location service where a user's devices are."""
    targets: list[ForkTarget] = []
    owners: dict[str, Subscriber] = {}
    from_ = NameAddress(
        parse_uri(f"sip:{_user_part(caller.number)}@{tenant.sip_domain}"),
        display_name=caller.name,
    )
    for user in users:
        to = NameAddress(
            parse_uri(f"sip:{_user_part(user.extension or str(user.user_id))}@{tenant.sip_domain}"),
            display_name=user.name,
        )
        for binding in await location.bindings(tenant.tenant_id, user.user_id):
            if device is not None and binding.device.credential_id != device:
                continue
            label = f"{binding.device.credential_id}:{binding.uri}"
            flow = flows.flow_for(binding)
            target = device_target(binding, flow, to=to, from_=from_, label=label)
            if target is not None:
                owners[label] = user
                targets.append(target)
    return targets, owners


def _user_part(number: str) -> str:
    return number if number else "anonymous"


@dataclass
class ForkResult:
    outcome: ForkOutcome
    dialog: Dialog | None = None
    response: Response | None = None  # the 2xx, or the most telling final response
    target: ForkTarget | None = None
    #: per target label: the final status (0: no response at all / could not send)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return self.response.status if self.response is not None else 0


@dataclass(frozen=True)
class TrunkAttempt:
    """One try through one trunk (`trunks.dialout.TrunkTry`): what the fork came to, the status
    that decides failover, and whether the trunk stayed silent past its set-up time."""

    result: ForkResult
    status: int
    silent: bool

    @property
    def answered(self) -> bool:
        return self.result.outcome is ForkOutcome.ANSWERED

    @property
    def cancelled(self) -> bool:
        return self.result.outcome is ForkOutcome.CANCELLED


ProvisionalHook = Callable[[ForkTarget, Response, Dialog | None], None]


async def ring(
    ua: UserAgent,
    targets: Sequence[ForkTarget],
    offer: bytes,
    *,
    ring_timeout: float,
    caller_gone: asyncio.Event,
    on_provisional: ProvisionalHook | None = None,
) -> ForkResult:
    """Send the INVITEs and wait for the first answer, the timeout, or the caller giving up."""
    calls: dict[asyncio.Future[Dialog], tuple[ForkTarget, OutgoingCall]] = {}
    statuses: dict[str, int] = {}
    failures: list[Response] = []
    for target in targets:
        hook = _provisional_hook(target, on_provisional)
        try:
            call = await ua.invite(
                target.to,
                from_=target.from_,
                body=offer,
                headers=list(target.headers),
                destination=target.destination,
                credentials=target.credentials,
                on_provisional=hook,
                request_uri=target.request_uri,
                pin_flow=target.pin_flow,
            )
        except (SipError, OSError, ValueError) as error:
            log.info("fork to %s not sent: %s", target.request_uri, error)
            statuses[target.label] = 0
            continue
        calls[call.answered()] = (target, call)
    if not calls:
        return ForkResult(ForkOutcome.UNAVAILABLE, statuses=statuses)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + ring_timeout
    gone = watch(caller_gone)
    pending = set(calls)
    try:
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                _cancel_all(calls, pending)
                return ForkResult(ForkOutcome.NO_ANSWER, statuses=statuses)
            waiting: set[asyncio.Future[Any]] = {*pending, gone}
            done, _ = await asyncio.wait(
                waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if gone in done:
                _cancel_all(calls, pending)
                return ForkResult(ForkOutcome.CANCELLED, statuses=statuses)
            for future in [f for f in pending if f in done]:
                pending.discard(future)
                target, call = calls[future]
                failure = future.exception()
                if failure is None:
                    _cancel_all(calls, pending)
                    statuses[target.label] = 200
                    return ForkResult(
                        ForkOutcome.ANSWERED,
                        dialog=future.result(),
                        response=call.final_response,
                        target=target,
                        statuses=statuses,
                    )
                statuses[target.label] = _status_of(failure)
                if isinstance(failure, CallFailed) and failure.response is not None:
                    failures.append(failure.response)
    finally:
        gone.cancel()
    busy = [r for r in failures if r.status in BUSY_STATUSES]
    if busy:
        return ForkResult(ForkOutcome.BUSY, response=busy[0], statuses=statuses)
    return ForkResult(
        ForkOutcome.UNAVAILABLE, response=failures[0] if failures else None, statuses=statuses
    )


def _provisional_hook(
    target: ForkTarget, hook: ProvisionalHook | None
) -> Callable[[Response, Dialog | None], None] | None:
    if hook is None:
        return None
    return lambda response, dialog: hook(target, response, dialog)


def _cancel_all(
    calls: dict[asyncio.Future[Dialog], tuple[ForkTarget, OutgoingCall]],
    pending: set[asyncio.Future[Dialog]],
) -> None:
    for future in pending:
        calls[future][1].cancel()
        future.cancel()


def _status_of(error: BaseException) -> int:
    if isinstance(error, CallFailed):
        return error.response.status if error.response is not None else 487
    if isinstance(error, TransactionTimeout):
        return 408
    if isinstance(error, TransportError):
        return 503
    return 500
