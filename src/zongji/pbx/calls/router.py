"""The router: what was dialled, what a called number points at, what a caller chose in a menu,
resolved into a `Destination` (`pbx/destinations.py`). It decides *where*, never *how*: the engine
runs what it returns.

- from a device, the Request-URI's user part: a registered application's feature code (`*97`),
  else the dial plan (`pbx/dialling.py`): an extension is a USER (or HANG_UP 404 when nobody has
  it), anything else an EXTERNAL_NUMBER; a dial string that is no number is HANG_UP 484/404;
- from a trunk, the called number (DID) through the number pool (`NumberRoute`): a direct line is
  its USER, the main number (and the pool's other numbers) the main-number IVR_MENU; an unknown
  number 404, an enterprise out of service 480;
- from a menu, a user or (no user) the RECEPTIONISTS;
- a missed call, the user's VOICEMAIL_BOX when it takes messages;
- a destination configuration stores (`Target`: its kind as text, and a reference), generically
  (`configured`): call control's own kinds read their reference, and any other kind goes to the
  application that serves it — so a new kind needs no line here.

A feature code resolves to the kind its application serves (FEATURE_CODE for one that serves
none in particular). RING_GROUP and CONFERENCE_BRIDGE have no data behind them yet: nothing
resolves to them, and the engine refuses them (480) until an application registers for them, as
it refuses any kind nothing serves.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from zongji.directory.numbers import NumberRoute, RouteKind
from zongji.pbx.apps.registry import Applications
from zongji.pbx.contracts import (
    DialError,
    DialKind,
    Subscriber,
    TelephonyView,
    TenantLine,
    Voicemail,
)
from zongji.pbx.destinations import Destination, DestinationKind, Target
from zongji.pbx.dialling import parse_dialled

log = logging.getLogger(__name__)


class NumberRouter(Protocol):
    async def route(self, called: str) -> NumberRoute | None: ...


class Router:
    def __init__(
        self,
        view: TelephonyView,
        numbers: NumberRouter,
        voicemail: Voicemail,
        applications: Applications,
    ) -> None:
        self.view = view
        self.numbers = numbers
        self.voicemail = voicemail
        self.applications = applications

    async def dialled(self, tenant: TenantLine, user_part: str) -> Destination:
        """What a device of `tenant` dialled."""
        app = self.applications.for_feature_code(user_part)
        if app is not None:
            kind = app.serves or DestinationKind.FEATURE_CODE
            return Destination(kind, tenant, number=user_part, application=app.name)
        try:
            dialled = parse_dialled(user_part, tenant)
        except DialError as error:
            status = 484 if "incomplete" in error.code or "short" in error.code else 404
            return Destination.hang_up(status, reason_phrase(error.reason), tenant=tenant)
        if dialled.kind is not DialKind.EXTENSION:
            return Destination(
                DestinationKind.EXTERNAL_NUMBER, tenant, number=dialled.number, dialled=dialled
            )
        callee = await self.view.by_extension(tenant.tenant_id, dialled.number)
        if callee is None:
            return Destination.hang_up(
                404, "No Such Extension", tenant=tenant, number=dialled.number, dialled=dialled
            )
        return Destination(
            DestinationKind.USER,
            tenant,
            users=(callee,),
            number=dialled.number,
            dialled=dialled,
            voicemail_for=callee,
        )

    async def called_number(self, called: str) -> Destination:
        """What an outside caller's called number (E.164) points at."""
        route = await self.numbers.route(called)
        tenant = await self.view.tenant(route.tenant_id) if route is not None else None
        if route is None or tenant is None:
            return Destination.hang_up(404, "Unknown Number", number=called)
        if not tenant.active:
            return Destination.hang_up(480, "Temporarily Unavailable", tenant=tenant)
        if route.kind is RouteKind.DIRECT_LINE and route.user_id is not None:
            user = await self.view.subscriber(tenant.tenant_id, route.user_id)
            if user is None:
                return Destination.hang_up(404, "Unknown Number", tenant=tenant, number=called)
            return Destination.to_user(tenant, user, number=called)
        menu = self.applications.serving(DestinationKind.IVR_MENU)
        return Destination(
            DestinationKind.IVR_MENU,
            tenant,
            number=called,
            application=menu.name if menu is not None else None,
        )

    async def menu_choice(self, tenant: TenantLine, user: Subscriber | None) -> Destination:
        """A caller's choice in a menu: that user, or the front desk."""
        if user is not None:
            return Destination.to_user(tenant, user, number=user.extension or "")
        receptionists = await self.view.receptionists(tenant.tenant_id)
        return Destination(DestinationKind.RECEPTIONISTS, tenant, users=tuple(receptionists))

    async def missed_call_box(self, tenant: TenantLine, user: Subscriber) -> Destination | None:
        """The user's voicemail box, for a call they did not take, if it takes messages."""
        try:
            accepts = await self.voicemail.accepts(tenant.tenant_id, user.user_id)
        except Exception:
            log.exception("voicemail check failed")
            accepts = False
        if not accepts:
            return None
        return Destination(DestinationKind.VOICEMAIL_BOX, tenant, users=(user,))

    async def configured(self, tenant: TenantLine, target: Target) -> Destination:
        """What a stored destination points at, resolved now (the user may have gone since).

        USER and VOICEMAIL_BOX read a user's id, EXTERNAL_NUMBER a number as dialled,
        RECEPTIONISTS nothing, HANG_UP a SIP status; every other kind is run by the application
        serving it, which reads `ref` (as `Destination.number`) — or, if nothing serves it, the
        engine refuses it with 480 and records the call failed."""
        try:
            kind = DestinationKind(target.kind)
        except ValueError:
            log.warning("configured destination of no kind: %r", target.kind)
            return Destination.hang_up(404, "Unknown Destination", tenant=tenant)
        if kind is DestinationKind.RECEPTIONISTS:
            return await self.menu_choice(tenant, None)
        if kind in (DestinationKind.USER, DestinationKind.VOICEMAIL_BOX):
            user = await self._user(tenant, target.ref)
            if user is None:
                return Destination.hang_up(404, "Unknown User", tenant=tenant)
            if kind is DestinationKind.USER:
                return Destination.to_user(tenant, user, number=user.extension or "")
            return Destination(kind, tenant, users=(user,))
        if kind is DestinationKind.EXTERNAL_NUMBER:
            return await self.dialled(tenant, target.ref)
        if kind is DestinationKind.HANG_UP:
            status = int(target.ref) if target.ref.isdigit() else 0
            return Destination.hang_up(status if 400 <= status < 700 else 480, tenant=tenant)
        app = self.applications.serving(kind)
        return Destination(
            kind, tenant, number=target.ref, application=app.name if app is not None else None
        )

    async def _user(self, tenant: TenantLine, ref: str) -> Subscriber | None:
        try:
            user_id = uuid.UUID(ref)
        except ValueError:
            return None
        return await self.view.subscriber(tenant.tenant_id, user_id)


def reason_phrase(error: object) -> str:
    """A SIP reason phrase from an error: one line, at most 80 characters."""
    text = str(error).replace("\r", " ").replace("\n", " ")
    return text[:80] or "Not Acceptable Here"
