"""What the parts of call control promise each other.

The PBX is a B2BUA (`calls/`) that leans on several smaller parts: the in-memory view of
enterprises and their users (`view.py`), device credentials and registrations (`devices/`), the
dial plan (`dialling.py`), trunks to the carrier (`trunks/`), the outbound policy (`policy/`),
call records (`records/`) and voicemail (`voicemail/`). Each part implements the protocol named
here and the call engine sees nothing else of it, so a part can change (a Redis location
service, a remote media engine) without the engine changing.

Everything crossing these seams is immutable plain data, except the `AnsweredLeg` handed to
applications (IVR, voicemail), which is the one live object: a call leg with its media.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from zongji.directory.service_period import within_validity
from zongji.media import MediaServer, PlaybackFinished, PlayItem, RecordingFinished
from zongji.sip import Credentials, DialogSnapshot, Flow, IncomingRequest

# --- enterprises and users, as call control sees them (view.py) ------------------------------


@dataclass(frozen=True)
class TenantLine:
    """An enterprise, as call routing needs it."""

    tenant_id: uuid.UUID
    code: str
    name: str
    sip_domain: str
    status: str  # "active", "suspended", "cancelled" (directory's EnterpriseStatus values)
    area_code: str  # e.g. "25" for Nanjing, without the trunk prefix 0
    city: str
    timezone: str
    main_number: str | None  # E.164
    access_number: str | None  # E.164
    features: Mapping[str, Any]
    extension_length: int

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Subscriber:
    """A user of an enterprise, as call routing and the outbound policy need them."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    extension: str | None
    direct_line: str | None  # E.164, from the enterprise's number pool
    mobile: str  # E.164
    is_receptionist: bool
    outbound_restriction: str  # directory's OutboundRestriction values
    outbound_time: str  # directory's OutboundTime values
    monthly_minutes: int | None  # None: unlimited
    work_start: str  # "HH:MM", enterprise time zone
    work_end: str
    valid_from: date | None
    valid_until: date | None
    suspended: bool = False  # 停机 of this user (OPS-3)

    def in_service(self, today: date) -> bool:
        """Not suspended and within the validity period on `today` (the enterprise's date):
        otherwise the user may not register, call, or be called (`directory.service_period`)."""
        return not self.suspended and within_validity(today, self.valid_from, self.valid_until)


class TelephonyView(Protocol):
    """Enterprises and users for the hot paths, kept in memory and refreshed by directory events
    (DESIGN §2: no database query per packet)."""

    async def tenant(self, tenant_id: uuid.UUID) -> TenantLine | None: ...

    async def tenant_by_domain(self, domain: str) -> TenantLine | None: ...

    async def subscriber(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Subscriber | None: ...

    async def by_extension(self, tenant_id: uuid.UUID, extension: str) -> Subscriber | None: ...

    async def receptionists(self, tenant_id: uuid.UUID) -> Sequence[Subscriber]: ...


# --- devices and registrations (devices/) ------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """A device that proved it holds a credential the platform issued (SEC-3, SEC-4)."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    credential_id: uuid.UUID
    username: str


@dataclass(frozen=True, slots=True)
class Binding:
    """One registered contact of a user: where a request to reach that device goes.

    Plain immutable data, so any node can read it (a shared location store can hold it): it names
    the node that holds the registration and the transport flow it came in on, but never carries
    the flow itself. Only the holding node can send on that flow; the SIP side there turns a
    binding into its live flow at send time (`LocationService.flow_for`)."""

    id: uuid.UUID  # the registration; kept across refreshes (its row in the registrations journal)
    node: str  # the node that holds the registration and its flow (settings.node_name)
    device: Device
    uri: str  # the Contact URI, fixed up for NAT (received/rport) when the device is behind one
    #: The Path the REGISTER collected (RFC 3327), first entry = first hop: requests to the
    #: device carry it as their Route set. Empty for a device that registered directly.
    path: tuple[str, ...]
    expires_at: datetime  # UTC
    transport: str  # "udp", "tcp", "tls": what the REGISTER came over
    source: str  # "host:port" the REGISTER came from (a NAT's mapping, or a proxy's address)
    #: Opaque name of the flow on `node` (transport, our address, the peer's): which connection
    #: or socket mapping reaches the device, for logs and operators; not an address to send to.
    flow: str
    nat: bool = False  # the Contact was rewritten to the source address
    user_agent: str = ""
    instance_id: str | None = None  # `+sip.instance` (RFC 5626)
    reg_id: int | None = None


class DeviceAuth(Protocol):
    async def authenticate(self, incoming: IncomingRequest, tenant: TenantLine) -> Device | None:
        """Verify the request's Digest credentials against the tenant's device credentials.

        On failure it has already answered the request (401/407 challenge, or 403 for a source that
        is blocked or credentials of another enterprise) and returns None."""
        ...

    def blocked(self, host: str) -> bool:
        """Is this source address blocked for repeated authentication failures?"""
        ...


class Location(Protocol):
    """Where users' devices are registered, on whichever node holds each registration (DESIGN §5:
    one node keeps it in memory; several share it). Asynchronous, because a shared store is a
    network round trip away."""

    async def bindings(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[Binding]:
        """The user's live registrations, oldest expiry first (expired ones never appear)."""
        ...


# --- the dial plan (dialling.py) --------------------------------------------------------------


class DialKind(StrEnum):
    EXTENSION = "extension"
    EXTERNAL = "external"  # anything that leaves through a trunk
    EMERGENCY = "emergency"  # 110, 119, 120, 122: always allowed, sent to the trunk as dialled


@dataclass(frozen=True)
class Dialled:
    kind: DialKind
    number: str  # the extension, the E.164 number ("+8613912345678"), or the emergency code
    raw: str  # what the device sent


GREETING_FEATURE_CODE = "*97"
"""Dialled from a device: record your own voicemail greeting (CALL-10)."""


class DialError(ValueError):
    """A dial string that can't be a number: letters, an incomplete number … `code` is stable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# --- the outbound policy (policy/) ------------------------------------------------------------


class NumberClass(StrEnum):
    INTERNAL = "internal"
    LOCAL = "local"
    DOMESTIC = "domestic"
    INTERNATIONAL = "international"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class PolicyDecision:
    allowed: bool
    number_class: NumberClass
    rule: str | None = None  # why it was refused: "enterprise_suspended", "validity", ...
    prompt: str | None = None  # the prompt the refused caller hears (media prompt catalogue name)
    max_seconds: int | None = None  # longest talk time allowed (quota); None: no limit


class OutboundPolicy(Protocol):
    """Every call a device places passes `authorise` before anything is sent anywhere."""

    async def authorise(
        self, call_id: str, tenant: TenantLine, caller: Subscriber, dialled: Dialled
    ) -> PolicyDecision: ...

    async def answered(self, call_id: str) -> int | None:
        """The authorised call was answered: how many seconds it may last from now (None: no
        limit). The engine plays a warning a minute before and hangs up at the limit."""
        ...

    async def ended(self, call_id: str, talk_seconds: int) -> None:
        """The call is over (answered or not): bill it and release anything held for it."""
        ...


# --- trunks (trunks/) -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrunkDial:
    """How to send one outbound call through one trunk."""

    trunk_id: uuid.UUID
    trunk_name: str
    request_uri: str
    from_uri: str  # carries the caller ID
    headers: Sequence[tuple[str, str]]  # P-Asserted-Identity …
    credentials: Credentials | None
    destination: Flow | None  # None: resolve from request_uri / the trunk's proxy


class Trunks(Protocol):
    def dials(self, tenant: TenantLine, number: str, caller_id: str) -> Sequence[TrunkDial]:
        """The ways out for `number` (E.164 or an emergency code), healthy trunks first in
        priority order; the engine tries them in turn."""
        ...

    def failed(self, trunk_id: uuid.UUID) -> None:
        """A call attempt on this trunk got no answer or a 5xx/timeout: take it out for a while."""
        ...

    def inbound_trunk(self, flow: Flow) -> uuid.UUID | None:
        """Is this request from a trunk (by source address)? Only then is it an outside call."""
        ...


# --- call records (records/) ------------------------------------------------------------------


class CallDirection(StrEnum):
    INTERNAL = "internal"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUSED = "refused"
    VOICEMAIL = "voicemail"  # not answered by the callee; the caller was offered voicemail
    INTERRUPTED = "interrupted"  # the node died while the call was live


class HangupSide(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"
    SYSTEM = "system"  # the PBX ended it: quota limit, timeout, error, shutdown


@dataclass(frozen=True)
class Party:
    number: str  # extension for users, E.164 for outside numbers
    user_id: uuid.UUID | None = None
    name: str | None = None


@dataclass(frozen=True)
class CallStart:
    call_id: str
    tenant_id: uuid.UUID
    direction: CallDirection
    caller: Party
    callee: Party
    started_at: datetime
    trunk_id: uuid.UUID | None = None  # the outside line used
    outside_number: str | None = None  # the enterprise number presented or called (E.164)


@dataclass(frozen=True)
class CallEnd:
    status: CallStatus
    ended_at: datetime
    hangup_side: HangupSide | None
    reason: str | None = None  # SIP status / human reason
    rule: str | None = None  # the policy rule, for REFUSED


class CallRecords(Protocol):
    """Writes one record per call; while a call is live it is in a durable journal, so a node
    that dies mid-call closes it as INTERRUPTED when it starts again.

    Each report is taken at once, in the order made (so a caller need not await one report
    before the next); the awaitable it returns resolves once the record holds it, and never
    raises: a record problem must not drop a call."""

    def opened(self, start: CallStart) -> Awaitable[None]: ...

    def answered(
        self,
        call_id: str,
        at: datetime,
        answered_by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        legs: Sequence[DialogSnapshot] = (),
    ) -> Awaitable[None]:
        """The call was answered; `legs` are its dialogs now (caller's and callee's), kept
        with the open record so a node that dies mid-call can end them."""
        ...

    def dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> Awaitable[None]:
        """The node answered the caller itself (IVR, voicemail): its dialog, kept likewise."""
        ...

    def closed(self, call_id: str, end: CallEnd) -> Awaitable[None]: ...

    def routed(self, call_id: str, callee: Party) -> Awaitable[None]:
        """The call found its callee after it was opened (the main number's IVR chose one)."""
        ...


# --- applications on an answered leg (IVR, voicemail) -----------------------------------------


class AnsweredLeg(Protocol):
    """An answered call leg with its media endpoint, handed to an application that talks to the
    caller. The call engine owns it; when the caller hangs up `hung_up` is set, and every pending
    media wait returns."""

    call_id: str
    endpoint_id: str
    media: MediaServer
    hung_up: asyncio.Event

    async def play(self, items: Sequence[PlayItem], *, barge_in: str = "") -> PlaybackFinished: ...

    async def collect(
        self,
        max_digits: int,
        *,
        first_timeout: float,
        inter_digit_timeout: float,
        terminators: str = "#",
    ) -> str:
        """Digits the caller keys (RFC 4733 or in-band); "" if none before the timeout."""
        ...

    async def record(
        self, path: str, *, max_seconds: int, silence_seconds: int, stop_digits: str = "#"
    ) -> RecordingFinished: ...

    async def hangup(self) -> None: ...


@dataclass(frozen=True)
class VoicemailOffer:
    tenant_id: uuid.UUID
    box_user_id: uuid.UUID
    call_id: str
    caller: Party
    at: datetime = field(default_factory=lambda: datetime.now().astimezone())


class Voicemail(Protocol):
    async def accepts(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Does this user's box take messages (on no answer and decline)?"""
        ...

    async def take_message(self, leg: AnsweredLeg, offer: VoicemailOffer) -> None:
        """Greeting, beep, record up to 120 s; store it; notify (MWI, event). Returns when done."""
        ...

    async def record_greeting(
        self, leg: AnsweredLeg, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """The user dialled the greeting feature code: record their own greeting by phone."""
        ...

    async def subscribe(self, incoming: IncomingRequest, device: Device) -> None:
        """A device subscribes to message-summary (RFC 3842): accept, NOTIFY now and on change."""
        ...
