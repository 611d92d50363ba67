"""Who may see which event over the WebSocket, in one place.

An event reaches a connection when they share an *audience key*. A connection's keys come from
its principal (`keys_of`); an event's from the table below (`audience_of`). The keys:

- `enterprise(T)`: everyone of enterprise T (its console admins and its users);
- `admins(T)`: T's console admins (the enterprise admin role);
- `user(T, U)`: user U of T, on each of their devices;
- `OPERATORS`: the platform's operators.

Every registered event class is either in `AUDIENCES` or in `NOT_SENT`, never both
(tests/api/ws/test_audience.py keeps it so): a new event is invisible to clients until someone
decides who sees it. An event of an enterprise never carries a key of another enterprise, and an
event without a tenant can only reach operators, so tenant isolation holds by construction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from zongji.directory.events import (
    ContactsChanged,
    DirectoryChanged,
    EnterpriseCancelled,
    EnterpriseChanged,
    EnterpriseCreated,
    EnterpriseResumed,
    EnterpriseSuspended,
    ExtensionPlanChanged,
    FavouritesChanged,
    NumbersChanged,
    UserInvited,
)
from zongji.identity.events import DeviceDeregistered, SessionsEnded
from zongji.identity.models import Role, SubjectKind
from zongji.identity.principal import Principal
from zongji.pbx.events import (
    CalendarChanged,
    CallEnded,
    CredentialIssued,
    CredentialsRevoked,
    GreetingChanged,
    MinutesUsedUp,
    RegistrationChanged,
    TrunkChanged,
    VoicemailDeleted,
    VoicemailHeard,
    VoicemailLeft,
)
from zongji.platform.events import Event

Key = str
Keys = frozenset[Key]

OPERATORS: Key = "operators"


def enterprise(tenant: uuid.UUID) -> Key:
    return f"enterprise:{tenant}"


def admins(tenant: uuid.UUID) -> Key:
    return f"admins:{tenant}"


def user(tenant: uuid.UUID, user_id: uuid.UUID) -> Key:
    return f"user:{tenant}:{user_id}"


def keys_of(principal: Principal) -> Keys:
    """What a connection of `principal` hears: operators the platform's events; a console
    admin their enterprise's and its admins'; a user their enterprise's and their own."""
    if principal.is_operator:
        return frozenset({OPERATORS})
    tenant = principal.tenant_id
    keys = {enterprise(tenant)}
    if Role.ENTERPRISE_ADMIN in principal.roles:
        keys.add(admins(tenant))
    if principal.kind is SubjectKind.USER:
        keys.add(user(tenant, principal.subject_id))
    return frozenset(keys)


# -- the table ----------------------------------------------------------------------------------

_Rule = Callable[[Any], Iterable[Key]]


def _everyone(event: Event) -> Iterable[Key]:
    """The whole enterprise: what any member's lists show (the directory)."""
    return (enterprise(event.tenant_id),) if event.tenant_id else ()


def _admins(event: Event) -> Iterable[Key]:
    """The enterprise's console: configuration an employee has no page for."""
    return (admins(event.tenant_id),) if event.tenant_id else ()


def _enterprise_lifecycle(event: Event) -> Iterable[Key]:
    """The operators' enterprise list, and the enterprise's own console."""
    return (OPERATORS, *_everyone(event))


def _owner(attribute: str) -> _Rule:
    """Private to one user (their contacts, favourites, voicemail)."""

    def rule(event: Event) -> Iterable[Key]:
        if event.tenant_id is None:
            return ()
        return (user(event.tenant_id, getattr(event, attribute)),)

    return rule


def _user_and_admins(event: MinutesUsedUp | RegistrationChanged) -> Iterable[Key]:
    if event.tenant_id is None:
        return ()
    return (admins(event.tenant_id), user(event.tenant_id, event.user_id))


def _call_ended(event: CallEnded) -> Iterable[Key]:
    """The console's live figures and records, and the call history of the users in the call
    (never another employee: who called whom is theirs)."""
    if event.tenant_id is None:
        return ()
    people = {event.caller_user_id, event.callee_user_id, event.answered_by_user_id}
    return (
        admins(event.tenant_id),
        *(user(event.tenant_id, p) for p in people if p is not None),
    )


def _platform(event: Event) -> Iterable[Key]:
    """Platform-wide configuration (trunks): operators only."""
    return (OPERATORS,)


AUDIENCES: dict[type[Event], _Rule] = {
    EnterpriseCreated: _enterprise_lifecycle,
    EnterpriseChanged: _enterprise_lifecycle,
    EnterpriseSuspended: _enterprise_lifecycle,
    EnterpriseResumed: _enterprise_lifecycle,
    EnterpriseCancelled: _enterprise_lifecycle,
    DirectoryChanged: _everyone,
    CalendarChanged: _everyone,
    NumbersChanged: _admins,
    ExtensionPlanChanged: _admins,
    UserInvited: _admins,
    CredentialIssued: _admins,
    CredentialsRevoked: _admins,
    ContactsChanged: _owner("owner_id"),
    FavouritesChanged: _owner("owner_id"),
    VoicemailLeft: _owner("box_user_id"),
    VoicemailHeard: _owner("box_user_id"),
    VoicemailDeleted: _owner("box_user_id"),
    GreetingChanged: _owner("box_user_id"),
    MinutesUsedUp: _user_and_admins,
    RegistrationChanged: _user_and_admins,
    CallEnded: _call_ended,
    TrunkChanged: _platform,
}
"""Every event a client may see, and who."""

NOT_SENT: frozenset[type[Event]] = frozenset(
    {
        # Sessions ending: the gateway closes those connections itself (endpoint.py); the ids
        # of sessions are nobody's business.
        SessionsEnded,
        DeviceDeregistered,
    }
)
"""Events no client sees."""


def audience_of(event: Event) -> Keys:
    """The keys of the connections that see `event`; empty: nobody (not sent, no cursor)."""
    rule = AUDIENCES.get(type(event))
    return frozenset(rule(event)) if rule is not None else frozenset()


CLIENT_EVENTS: tuple[type[Event], ...] = tuple(AUDIENCES)
