"""What the PBX announces, after the change has committed: calls that ended, minutes used up,
calendar and trunk changes, voicemail, device credentials and registrations.

One module for the whole context (its parts publish and subscribe to each other's events, and
reading them side by side is how to see what the PBX tells the rest of the platform).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from zongji.pbx.contracts import CallDirection, CallStatus
from zongji.platform.event_wire import registered
from zongji.platform.events import Event

# -- calls and their cost -----------------------------------------------------------------------


@registered("call.ended")
@dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    """A call's record was closed: for what reacts to finished calls (missed-call notifications,
    statistics)."""

    call_id: str
    record_id: uuid.UUID
    direction: CallDirection
    status: CallStatus | None
    caller_number: str
    caller_user_id: uuid.UUID | None
    caller_name: str | None
    callee_number: str
    callee_user_id: uuid.UUID | None
    callee_name: str | None
    answered_by_user_id: uuid.UUID | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    billable_seconds: int


@registered("policy.minutes_used_up")
@dataclass(frozen=True, kw_only=True)
class MinutesUsedUp(Event):
    """A call used up its user's month (for a notice to the user; the user is now frozen until
    the quota is raised or the month turns)."""

    user_id: uuid.UUID
    month: str  # "2026-12"
    monthly_minutes: int
    billed_minutes: int


@registered("policy.calendar_changed")
@dataclass(frozen=True, kw_only=True)
class CalendarChanged(Event):
    """The enterprise's holiday calendar changed: a whole year replaced, or one day."""

    year: int | None = None
    day: date | None = None


# -- trunks -------------------------------------------------------------------------------------


class TrunkChangeKind(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"


@registered("trunk.changed")
@dataclass(frozen=True, kw_only=True)
class TrunkChanged(Event):
    """A carrier trunk was created, changed or deleted (platform-wide: `tenant_id` is None)."""

    trunk_id: uuid.UUID
    change: TrunkChangeKind


# -- voicemail ----------------------------------------------------------------------------------


@registered("voicemail.left")
@dataclass(frozen=True, kw_only=True)
class VoicemailLeft(Event):
    box_user_id: uuid.UUID
    message_id: uuid.UUID
    caller_number: str
    caller_name: str | None
    caller_user_id: uuid.UUID | None
    call_id: str
    seconds: float
    received_at: datetime
    file_key: str


@registered("voicemail.heard")
@dataclass(frozen=True, kw_only=True)
class VoicemailHeard(Event):
    box_user_id: uuid.UUID
    message_id: uuid.UUID


@registered("voicemail.deleted")
@dataclass(frozen=True, kw_only=True)
class VoicemailDeleted(Event):
    box_user_id: uuid.UUID
    message_id: uuid.UUID


@registered("voicemail.greeting")
@dataclass(frozen=True, kw_only=True)
class GreetingChanged(Event):
    """The box's greeting was recorded, replaced or cleared."""

    box_user_id: uuid.UUID


VoicemailEvent = VoicemailLeft | VoicemailHeard | VoicemailDeleted | GreetingChanged
VOICEMAIL_EVENTS = (VoicemailLeft, VoicemailHeard, VoicemailDeleted, GreetingChanged)

# -- devices ------------------------------------------------------------------------------------


@registered("pbx.devices.issued")
@dataclass(frozen=True, kw_only=True)
class CredentialIssued(Event):
    """A SIP device credential was issued."""

    credential_id: uuid.UUID


@registered("pbx.devices.revoked")
@dataclass(frozen=True, kw_only=True)
class CredentialsRevoked(Event):
    """SIP device credentials were revoked: every node drops their registrations."""

    credential_ids: tuple[uuid.UUID, ...]


@registered("pbx.registration.changed")
@dataclass(frozen=True, kw_only=True)
class RegistrationChanged(Event):
    """A user's first device registered, or their last one went away."""

    user_id: uuid.UUID
    registered: bool
