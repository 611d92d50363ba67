"""Message-waiting indication (RFC 3842 over RFC 6665): the lamp on the desk phone.

A device that proved its credentials SUBSCRIBEs to `message-summary`; we accept, NOTIFY the box's
counts at once, and NOTIFY again whenever they change (a message left, heard or deleted: the
mailbox's events, so a change made through the API on any path is seen). Subscriptions live in
memory per (tenant, user) — a device refreshes them well within their lifetime and re-subscribes
after a restart of the node, so nothing here needs to survive one. A subscription that is not
refreshed in time ends with a final NOTIFY (`terminated;reason=timeout`), and one whose NOTIFY
the device refuses (481, timeout) is dropped.

A device only ever hears about its own user's box, whatever account its Request-URI names:
nobody learns another user's message counts by asking.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from zongji.pbx.contracts import Device
from zongji.pbx.events import VoicemailEvent
from zongji.pbx.voicemail.mailbox import Counts
from zongji.sip import (
    Dialog,
    DialogTerminated,
    IncomingRequest,
    SipError,
    SipParseError,
    SipUri,
    accept_subscription,
)

log = logging.getLogger(__name__)

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
DEFAULT_EXPIRES = 3600
MAX_EXPIRES = 3600
MIN_EXPIRES = 60

BoxKey = tuple[uuid.UUID, uuid.UUID]
CountsOf = Callable[[uuid.UUID, uuid.UUID], Awaitable[Counts]]


def summary_body(counts: Counts, account: str) -> bytes:
    """The `application/simple-message-summary` document (RFC 3842 §5)."""
    waiting = "yes" if counts.new else "no"
    return (
        f"Messages-Waiting: {waiting}\r\n"
        f"Message-Account: {account}\r\n"
        f"Voice-Message: {counts.new}/{counts.old} (0/0)\r\n"
    ).encode()


@dataclass(eq=False)
class MwiSubscription:
    box: BoxKey
    dialog: Dialog
    account: str
    expires_at: float = 0.0
    timer: asyncio.TimerHandle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ended: bool = False


class MwiNotifier:
    def __init__(
        self,
        counts: CountsOf,
        *,
        default_expires: int = DEFAULT_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        min_expires: int = MIN_EXPIRES,
    ) -> None:
        self._counts = counts
        self._default = default_expires
        self._max = max_expires
        self._min = min_expires
        self._subs: dict[BoxKey, set[MwiSubscription]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what the node component calls -------------------------------------------------------------

    async def subscribe(self, incoming: IncomingRequest, device: Device) -> None:
        """An authenticated device's SUBSCRIBE outside a dialog."""
        granted = self._check(incoming)
        if granted is None:
            return
        box = (device.tenant_id, device.user_id)
        dialog = accept_subscription(incoming, expires=granted)
        sub = MwiSubscription(box, dialog, _account(incoming, device))
        dialog.on_request = lambda req: self._in_dialog(sub, req)
        dialog.on_terminated = lambda _d: self._forget(sub)
        if granted == 0:  # a fetch (RFC 6665 §4.4.3): one NOTIFY, then it is over
            sub.ended = True
            await self._notify(sub, "terminated;reason=timeout")
            dialog._terminate("fetched")
            return
        self._arm(sub, granted)
        self._subs.setdefault(box, set()).add(sub)
        await self._notify(sub, None)

    async def changed(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """The box's counts may have changed: tell every device subscribed to it."""
        subs = list(self._subs.get((tenant_id, user_id), ()))
        if subs:
            await asyncio.gather(*(self._notify(s, None) for s in subs))

    async def on_event(self, event: VoicemailEvent) -> None:
        """Bus handler for `VOICEMAIL_EVENTS`: each names the box whose counts may have changed."""
        if event.tenant_id is not None:
            await self.changed(event.tenant_id, event.box_user_id)

    def subscriptions(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
        return len(self._subs.get((tenant_id, user_id), ()))

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                self._forget(sub)
        for task in list(self._tasks):
            task.cancel()

    # -- the SUBSCRIBE -------------------------------------------------------------------------

    def _check(self, incoming: IncomingRequest) -> int | None:
        """Answer a SUBSCRIBE we can't take; otherwise the lifetime to grant (0: a fetch)."""
        request = incoming.request
        try:
            event = request.event
            expires = request.expires
            accept = request.accept
        except SipParseError:
            incoming.respond(400, "Malformed Event, Expires or Accept")
            return None
        if event is None or event.value.lower() != EVENT:
            incoming.respond(489, headers=[("Allow-Events", EVENT)])
            return None
        if accept and not any(m.mime in (CONTENT_TYPE, "application/*", "*/*") for m in accept):
            incoming.respond(406, headers=[("Accept", CONTENT_TYPE)])
            return None
        if expires is None:
            return self._default
        if expires == 0:
            return 0
        if expires < self._min:
            incoming.respond(423, headers=[("Min-Expires", str(self._min))])
            return None
        return min(expires, self._max)

    def _in_dialog(self, sub: MwiSubscription, incoming: IncomingRequest) -> None:
        """A refresh (or Expires: 0, an unsubscribe) in the subscription's dialog."""
        if incoming.method != "SUBSCRIBE":
            incoming.respond(405, headers=[("Allow", "SUBSCRIBE")])
            return
        granted = self._check(incoming)
        if granted is None:
            return
        accept_subscription(incoming, expires=granted)
        if granted == 0:
            self._drop(sub)
            sub.ended = True
            self._spawn(self._final(sub, "terminated;reason=timeout"))
            return
        self._arm(sub, granted)
        self._spawn(self._notify(sub, None))

    # -- timing ----------------------------------------------------------------------------------

    def _arm(self, sub: MwiSubscription, seconds: int) -> None:
        loop = asyncio.get_running_loop()
        if sub.timer is not None:
            sub.timer.cancel()
        sub.expires_at = loop.time() + seconds
        sub.timer = loop.call_later(seconds, self._expired, sub)

    def _expired(self, sub: MwiSubscription) -> None:
        sub.timer = None
        self._drop(sub)
        sub.ended = True
        self._spawn(self._final(sub, "terminated;reason=timeout"))

    # -- NOTIFY ----------------------------------------------------------------------------------

    async def _final(self, sub: MwiSubscription, state: str) -> None:
        await self._notify(sub, state)
        if not sub.dialog.terminated:
            sub.dialog._terminate("subscription ended")

    async def _notify(self, sub: MwiSubscription, state: str | None) -> None:
        """NOTIFY the box's current counts. One at a time per subscription, each reading the
        counts just before it goes, so the last NOTIFY a device gets is always the latest."""
        async with sub.lock:
            if sub.dialog.terminated or (sub.ended and state is None):
                return
            if state is None:
                left = max(0, round(sub.expires_at - asyncio.get_running_loop().time()))
                state = f"active;expires={left}"
            try:
                counts = await self._counts(*sub.box)
                response = await sub.dialog.notify(
                    EVENT, state, summary_body(counts, sub.account), CONTENT_TYPE
                )
            except (DialogTerminated, SipError, TimeoutError, ConnectionError, OSError) as e:
                log.info("MWI NOTIFY to %s failed: %s", sub.account, e)
                self._forget(sub)
                return
            except Exception:
                log.exception("MWI NOTIFY to %s failed", sub.account)
                return
        if not response.success:
            log.info("MWI NOTIFY to %s answered %d; dropped", sub.account, response.status)
            self._forget(sub)

    # -- bookkeeping -----------------------------------------------------------------------------

    def _drop(self, sub: MwiSubscription) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        subs = self._subs.get(sub.box)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.box]

    def _forget(self, sub: MwiSubscription) -> None:
        self._drop(sub)
        sub.ended = True
        if not sub.dialog.terminated:
            sub.dialog._terminate("subscription dropped")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _account(incoming: IncomingRequest, device: Device) -> str:
    """`sip:<user>@<domain>`: the device's own user at the domain it addressed."""
    uri = incoming.request.uri
    host = uri.host if isinstance(uri, SipUri) else None
    if host is None:
        to = incoming.request.to_addr.uri
        host = to.host if isinstance(to, SipUri) else "localhost"
    return f"sip:{device.username}@{host}"
