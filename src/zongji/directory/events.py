"""What the directory announces, after the change has committed.

Enterprises: created, changed, and one event per status change (停、复、销), so that what reacts
to a suspension subscribes to `EnterpriseSuspended` rather than to a status string. Users and
departments: `DirectoryChanged`, which points into the change feed. Everything else the directory
keeps (numbers, extension plan, personal contacts, favourites, invitations) has its own event and
is not in the feed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from zongji.platform.event_wire import registered
from zongji.platform.events import Event

# -- enterprises ---------------------------------------------------------------------------------


@registered("enterprise.created")
@dataclass(frozen=True, kw_only=True)
class EnterpriseCreated(Event):
    code: str


@registered("enterprise.changed")
@dataclass(frozen=True, kw_only=True)
class EnterpriseChanged(Event):
    fields: tuple[str, ...]  # the names of the enterprise fields that changed, sorted


@registered("enterprise.suspended")
@dataclass(frozen=True, kw_only=True)
class EnterpriseSuspended(Event):
    reason: str | None


@registered("enterprise.resumed")
@dataclass(frozen=True, kw_only=True)
class EnterpriseResumed(Event):
    reason: str | None


@registered("enterprise.cancelled")
@dataclass(frozen=True, kw_only=True)
class EnterpriseCancelled(Event):
    reason: str | None


ENTERPRISE_EVENTS = (
    EnterpriseCreated,
    EnterpriseChanged,
    EnterpriseSuspended,
    EnterpriseResumed,
    EnterpriseCancelled,
)

# -- users and departments: the change feed -----------------------------------------------------


@registered("directory.changed")
@dataclass(frozen=True, kw_only=True)
class DirectoryChanged(Event):
    """Users or departments changed; `cursor` is the feed position that includes the change.

    `users` and `departments` name at most `journal.EVENT_IDS_MAX` objects each (created, changed
    or deleted); `truncated` says some were left out, and devices read them from the feed."""

    cursor: int
    action: str  # the operation-log action, e.g. "user.create", "user.suspend", "import.users"
    users: tuple[uuid.UUID, ...] = ()
    departments: tuple[uuid.UUID, ...] = ()
    truncated: bool = False


# -- the rest of the directory ------------------------------------------------------------------


@registered("directory.numbers_changed")
@dataclass(frozen=True, kw_only=True)
class NumbersChanged(Event):
    """Numbers joined or left the enterprise's pool (direct lines route on them)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@registered("directory.extension_plan_changed")
@dataclass(frozen=True, kw_only=True)
class ExtensionPlanChanged(Event):
    pass


@registered("directory.invited")
@dataclass(frozen=True, kw_only=True)
class UserInvited(Event):
    user_id: uuid.UUID


@registered("contacts.changed")
@dataclass(frozen=True, kw_only=True)
class ContactsChanged(Event):
    """A user's personal contacts changed: private to the owner, never in the directory feed."""

    owner_id: uuid.UUID
    action: str  # "contact.add", "contact.import", "contact.change", "contact.delete"


@registered("favourites.changed")
@dataclass(frozen=True, kw_only=True)
class FavouritesChanged(Event):
    owner_id: uuid.UUID
    action: str  # "favourite.add", "favourite.remove", "favourite.reorder"
