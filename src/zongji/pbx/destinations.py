"""Where a call goes: one type for every kind of destination (DESIGN §3), used wherever something
routes a call (what a device dialled, a DID, a menu key, a missed call) — so it lives beside the
contracts, not inside call control: applications (`pbx/apps`) use it without importing `calls`.

The router (`calls/router.py`) resolves what a device dialled, what a called number (DID) points
at and what a caller keyed in a menu into a `Destination`; the engine runs it. The kinds:

- USER: ring one user's devices (their voicemail box takes the call they miss, if it is on);
- RECEPTIONISTS: ring the enterprise's receptionists together;
- EXTERNAL_NUMBER: out through the enterprise's trunks (an E.164 number or an emergency code);
- IVR_MENU, VOICEMAIL_BOX, FEATURE_CODE, and later CONFERENCE_BRIDGE: an application
  (`zongji.pbx.apps`) talks to the caller; the kind names which, through the registry;
- RING_GROUP: ring a group's members (no product data yet: refused, never faked);
- HANG_UP: refuse with a SIP status (an unknown number, a dial string that is not a number).

The kinds are open: a kind is a short name (`DestinationKind("wake_up_call")`), and the nine above
are named constants of it. A new kind is declared by the application that serves it (its `serves`)
and exists once that application is registered (`apps/registry.py`): the router resolves a
configured destination (`Target`: its kind as text) generically, the engine runs whatever
application serves the kind, and a kind nothing serves is refused with 480 (`NOT_AVAILABLE`) —
no edit to this module, the router or the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from zongji.pbx.contracts import Dialled, Party, Subscriber, TenantLine

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class DestinationKind(str):
    """A destination kind: a short lower-case name, open to new kinds (see the module docstring).

    Kinds are interned: `DestinationKind("user") is DestinationKind.USER`, so a kind read from
    configuration compares by identity like the constants do (and `==` with plain text works
    too). The name is checked, so text that cannot be a kind never becomes one."""

    __slots__ = ()
    _interned: ClassVar[dict[str, DestinationKind]] = {}

    USER: ClassVar[DestinationKind]
    RING_GROUP: ClassVar[DestinationKind]
    IVR_MENU: ClassVar[DestinationKind]
    VOICEMAIL_BOX: ClassVar[DestinationKind]
    CONFERENCE_BRIDGE: ClassVar[DestinationKind]
    RECEPTIONISTS: ClassVar[DestinationKind]
    EXTERNAL_NUMBER: ClassVar[DestinationKind]
    HANG_UP: ClassVar[DestinationKind]
    FEATURE_CODE: ClassVar[DestinationKind]

    def __new__(cls, name: str) -> DestinationKind:
        known = cls._interned.get(name)
        if known is not None:
            return known
        if not isinstance(name, str) or not _KIND_NAME.fullmatch(name):
            raise ValueError(f"not a destination kind name: {name!r}")
        kind = super().__new__(cls, name)
        cls._interned[str(name)] = kind
        return kind

    def __repr__(self) -> str:
        return f"DestinationKind({str(self)!r})"


DestinationKind.USER = DestinationKind("user")
DestinationKind.RING_GROUP = DestinationKind("ring_group")
DestinationKind.IVR_MENU = DestinationKind("ivr_menu")
DestinationKind.VOICEMAIL_BOX = DestinationKind("voicemail_box")
DestinationKind.CONFERENCE_BRIDGE = DestinationKind("conference_bridge")
DestinationKind.RECEPTIONISTS = DestinationKind("receptionists")
DestinationKind.EXTERNAL_NUMBER = DestinationKind("external_number")
DestinationKind.HANG_UP = DestinationKind("hang_up")
DestinationKind.FEATURE_CODE = DestinationKind("feature_code")

#: The kinds whose behaviour is call control's own (ringing, dialling out, refusing): every
#: other kind is run by the application that serves it.
CALL_CONTROL_KINDS = frozenset(
    {
        DestinationKind.USER,
        DestinationKind.RECEPTIONISTS,
        DestinationKind.EXTERNAL_NUMBER,
        DestinationKind.HANG_UP,
    }
)


@dataclass(frozen=True)
class Target:
    """A destination as configuration stores it (what a menu key or a called number points at):
    its kind as text and a reference its kind reads — a user's id (USER, VOICEMAIL_BOX), a
    number (EXTERNAL_NUMBER), a SIP status (HANG_UP), or whatever the serving application
    understands. `Router.configured` resolves it into a `Destination`."""

    kind: str
    ref: str = ""


#: What a caller gets for a destination kind nothing can run yet.
NOT_AVAILABLE = (480, "Not Available")


@dataclass(frozen=True)
class Destination:
    """One resolved destination. Fields beyond `kind` and `tenant` are those its kind uses."""

    kind: DestinationKind
    tenant: TenantLine | None
    #: USER (one), RECEPTIONISTS (each), VOICEMAIL_BOX (the box's owner), RING_GROUP (members)
    users: tuple[Subscriber, ...] = ()
    #: what was dialled, for the record: an extension, an E.164 number, a code, a DID (for a
    #: configured destination of an application's kind: its `Target.ref`)
    number: str = ""
    #: the dial plan's reading, for EXTERNAL_NUMBER and for a number the policy must authorise
    dialled: Dialled | None = None
    #: a kind an application serves: the registered application that runs it
    application: str | None = None
    #: USER: whose voicemail box takes a call nobody answered (None: no voicemail)
    voicemail_for: Subscriber | None = None
    #: HANG_UP: the SIP status and reason phrase
    status: int = 0
    reason: str | None = None

    def __post_init__(self) -> None:
        # a kind given as text (from configuration) becomes the interned kind, so that `is`
        # comparisons hold for every Destination (a name that is no kind raises ValueError)
        if type(self.kind) is not DestinationKind:
            object.__setattr__(self, "kind", DestinationKind(self.kind))

    @property
    def user(self) -> Subscriber | None:
        return self.users[0] if self.kind is DestinationKind.USER and self.users else None

    def callee(self, fallback: str = "") -> Party:
        """Who the record names as callee for this destination."""
        user = self.user
        if user is not None:
            return Party(user.extension or self.number or fallback, user.user_id, user.name)
        return Party(self.number or fallback)

    # --- constructors --------------------------------------------------------------------

    @classmethod
    def to_user(
        cls, tenant: TenantLine, user: Subscriber, *, number: str = "", voicemail: bool = True
    ) -> Destination:
        return cls(
            DestinationKind.USER,
            tenant,
            users=(user,),
            number=number,
            voicemail_for=user if voicemail else None,
        )

    @classmethod
    def hang_up(
        cls,
        status: int,
        reason: str | None = None,
        *,
        tenant: TenantLine | None = None,
        number: str = "",
        dialled: Dialled | None = None,
    ) -> Destination:
        return cls(
            DestinationKind.HANG_UP,
            tenant,
            number=number,
            dialled=dialled,
            status=status,
            reason=reason,
        )
