"""Event subscriptions (RFC 6665): SUBSCRIBE/NOTIFY as subscriber and as notifier.

`Subscription` is the subscriber side: it subscribes, refreshes, unsubscribes, and receives
NOTIFYs (a NOTIFY may beat the 2xx to the SUBSCRIBE, and then creates the dialog itself,
RFC 6665 §4.1.2.4). `accept_subscription` is the notifier side: it answers a SUBSCRIBE and
returns the dialog to send NOTIFYs in (`Dialog.notify`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from zongji.sip.auth.client import DigestClient
from zongji.sip.dialog import Dialog, DialogState
from zongji.sip.errors import SipParseError
from zongji.sip.message import Request, Response
from zongji.sip.transport.base import Destination, Flow
from zongji.sip.uri import SipUri, Uri

if TYPE_CHECKING:
    from zongji.sip.ua.core import UserAgent
    from zongji.sip.ua.requests import IncomingRequest

NotifyHandler = Callable[[Request], Awaitable[None] | None]


class Subscription:
    """A subscription we hold to `event` at `target`."""

    def __init__(
        self,
        ua: UserAgent,
        target: Uri,
        event: str,
        *,
        expires: int = 600,
        accept: str | None = None,
        auth: DigestClient | None = None,
        destination: Destination | Flow | None = None,
    ) -> None:
        self.ua = ua
        self.target = target
        self.event = event
        self.expires = expires
        self.accept = accept
        self.auth = auth
        self.destination = destination
        self.dialog: Dialog | None = None
        self.state = "init"  # then pending / active / terminated (Subscription-State)
        self.on_notify: NotifyHandler | None = None
        self.notifications: asyncio.Queue[Request] = asyncio.Queue()
        self._request: Request | None = None

    async def subscribe(self) -> Response:
        """Send the initial SUBSCRIBE; a 2xx (or an earlier NOTIFY) sets up the dialog."""
        headers: list[tuple[str, object]] = [("Event", self.event), ("Expires", str(self.expires))]
        if self.accept:
            headers.append(("Accept", self.accept))
        request = self.ua.create_request("SUBSCRIBE", self.target, headers=headers)
        self._request = request
        key = (request.call_id, request.from_addr.tag or "")
        self.ua._pending_subscriptions[key] = self._dialog_from_notify
        try:
            response = await self.ua.request(
                request, destination=self.destination, credentials=self.auth
            )
        finally:
            self.ua._pending_subscriptions.pop(key, None)
        if response.success and self.dialog is None:
            flow = await self.ua.flow_for(request, self.destination)
            dialog = Dialog.as_uac(self.ua, request, response, flow)
            self._adopt(dialog)
        if response.success and self.state == "init":
            self.state = "pending"
        elif not response.success:
            self.state = "terminated"
        return response

    def _dialog_from_notify(self, notify: Request, flow: Flow) -> Dialog:
        request = self._request
        assert request is not None
        contacts = notify.contacts
        dialog = Dialog(
            self.ua,
            call_id=request.call_id,
            local=request.from_addr,
            remote=notify.from_addr,
            local_seq=request.cseq.number,
            remote_seq=None,
            remote_target=contacts[0].uri if contacts else notify.from_addr.uri,
            route_set=list(notify.record_route),
            secure=isinstance(request.uri, SipUri) and request.uri.secure,
            is_uac=True,
            flow=flow,
            state=DialogState.CONFIRMED,
        )
        self._adopt(dialog)
        return dialog

    def _adopt(self, dialog: Dialog) -> None:
        dialog.credentials = self.auth
        dialog.on_request = self._request_in_dialog
        self.dialog = dialog
        self.ua.register_dialog(dialog)

    def _request_in_dialog(self, incoming: IncomingRequest) -> Awaitable[None] | None:
        request = incoming.request
        if request.method != "NOTIFY":
            incoming.respond(405, headers=[("Allow", "NOTIFY")])
            return None
        try:
            state = request.subscription_state
        except SipParseError:
            incoming.respond(400)
            return None
        incoming.respond(200)
        if state is not None:
            self.state = state.value.lower()
        self.notifications.put_nowait(request)
        if self.state == "terminated" and self.dialog is not None:
            self.dialog._terminate("subscription terminated")
        if self.on_notify is not None:
            return self.on_notify(request)
        return None

    async def next_notify(self) -> Request:
        return await self.notifications.get()

    async def refresh(self, expires: int | None = None) -> Response:
        """Refresh (or with 0, end) the subscription in its dialog."""
        if self.dialog is None or self.dialog.terminated:
            raise RuntimeError("no active subscription dialog")
        value = self.expires if expires is None else expires
        return await self.dialog.request(
            "SUBSCRIBE", headers=[("Event", self.event), ("Expires", str(value))]
        )

    async def unsubscribe(self) -> Response:
        return await self.refresh(0)


def accept_subscription(
    incoming: IncomingRequest, *, expires: int | None = None, status: int = 200
) -> Dialog:
    """Answer a SUBSCRIBE with a 2xx; returns the dialog for the NOTIFYs (RFC 6665 §4.2.1)."""
    request = incoming.request
    if request.method != "SUBSCRIBE":
        raise ValueError("not a SUBSCRIBE")
    granted = request.expires if expires is None else expires
    ua = incoming.ua
    dialog = incoming.dialog
    if dialog is None:
        dialog = Dialog.as_uas(ua, request, incoming.to_tag, incoming.source, DialogState.CONFIRMED)
        ua.register_dialog(dialog)
        incoming.dialog = dialog
    headers: list[tuple[str, object]] = [("Contact", ua.contact_for(incoming.source))]
    if granted is not None:
        headers.append(("Expires", str(granted)))
    incoming.respond(status, headers=headers)
    return dialog
