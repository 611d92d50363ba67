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

A kind with no behaviour registered is refused with 480 by the engine (`NOT_AVAILABLE`), so a new
kind is added by its application registering for it, without editing the engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zongji.pbx.contracts import Dialled, Party, Subscriber, TenantLine


class DestinationKind(enum.StrEnum):
    USER = "user"
    RING_GROUP = "ring_group"
    IVR_MENU = "ivr_menu"
    VOICEMAIL_BOX = "voicemail_box"
    CONFERENCE_BRIDGE = "conference_bridge"
    RECEPTIONISTS = "receptionists"
    EXTERNAL_NUMBER = "external_number"
    HANG_UP = "hang_up"
    FEATURE_CODE = "feature_code"


#: What a caller gets for a destination kind nothing can run yet.
NOT_AVAILABLE = (480, "Not Available")


@dataclass(frozen=True)
class Destination:
    """One resolved destination. Fields beyond `kind` and `tenant` are those its kind uses."""

    kind: DestinationKind
    tenant: TenantLine | None
    #: USER (one), RECEPTIONISTS (each), VOICEMAIL_BOX (the box's owner), RING_GROUP (members)
    users: tuple[Subscriber, ...] = ()
    #: what was dialled, for the record: an extension, an E.164 number, a code, a DID
    number: str = ""
    #: the dial plan's reading, for EXTERNAL_NUMBER and for a number the policy must authorise
    dialled: Dialled | None = None
    #: FEATURE_CODE / IVR_MENU / CONFERENCE_BRIDGE: the registered application that runs it
    application: str | None = None
    #: USER: whose voicemail box takes a call nobody answered (None: no voicemail)
    voicemail_for: Subscriber | None = None
    #: HANG_UP: the SIP status and reason phrase
    status: int = 0
    reason: str | None = None

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
