"""Requests as the application sees them: answerable objects wrapping a server transaction.

`IncomingRequest` is any request (OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, an in-dialog INFO ...):
read it, look at where it came from (`source`, for NAT handling), answer it once.
`IncomingCall` is an INVITE (initial or re-INVITE): ring, answer, reject; it notices CANCEL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from zongji.sip.dialog import Dialog, DialogState
from zongji.sip.fields import MediaType
from zongji.sip.ids import new_tag
from zongji.sip.message import Request, Response
from zongji.sip.timers import TimerHandle
from zongji.sip.transaction.server import InviteServerTransaction, ServerTransaction
from zongji.sip.transport.base import Flow

if TYPE_CHECKING:
    from zongji.sip.ua.core import UserAgent

HeaderItems = Iterable[tuple[str, object]]


class IncomingRequest:
    """A request received by the user agent, to be answered with `respond()`."""

    def __init__(
        self, ua: UserAgent, transaction: ServerTransaction, dialog: Dialog | None = None
    ) -> None:
        self.ua = ua
        self.transaction = transaction
        self.request: Request = transaction.request
        self.dialog = dialog
        self._to_tag: str | None = dialog.local_tag if dialog is not None else None
        self._deadline: TimerHandle | None = None  # answer-or-500 guard, see UserAgent

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def source(self) -> Flow:
        """Where the request came from: transport, peer address, connection (RFC 3581, 5626)."""
        return self.transaction.flow

    @property
    def to_tag(self) -> str:
        """Our tag for the responses (stable across them, as a dialog needs)."""
        if self._to_tag is None:
            self._to_tag = self.request.to_addr.tag or new_tag()
        return self._to_tag

    @property
    def answered(self) -> bool:
        """True once a final response went out."""
        return self.transaction.final_status >= 200

    def create_response(
        self,
        status: int,
        reason: str | None = None,
        *,
        headers: HeaderItems = (),
        body: bytes = b"",
        content_type: str | MediaType | None = None,
    ) -> Response:
        response = self.request.create_response(
            status, reason, to_tag=self.to_tag if status > 100 else None
        )
        for name, value in headers:
            response.headers.add(name, value)
        if body:
            response.set_body(body, content_type or "application/octet-stream")
        if status == 405 and "allow" not in response.headers:
            response.headers.add("Allow", ", ".join(self.ua.allowed_methods))
        return response

    def respond(
        self,
        status: int,
        reason: str | None = None,
        *,
        headers: HeaderItems = (),
        body: bytes = b"",
        content_type: str | MediaType | None = None,
    ) -> Response:
        """Send a response; returns it. A second final response is an error."""
        response = self.create_response(
            status, reason, headers=headers, body=body, content_type=content_type
        )
        self.send(response)
        return response

    def send(self, response: Response) -> None:
        """Send a response built by the caller (e.g. from `create_response`)."""
        if self.answered:
            raise RuntimeError(f"{self.method} already answered")
        self.transaction.respond(response)
        if response.status >= 200 and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def send_statelessly(self, response: Response) -> None:
        """Send a final response once, with no retransmission and no transaction kept
        (`ServerTransaction.respond_statelessly`): for Digest challenges and refusals of
        unauthenticated requests, which must never amplify what a forged source sends."""
        if self.answered:
            raise RuntimeError(f"{self.method} already answered")
        self.transaction.respond_statelessly(response)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} from {self.source.remote}>"


class IncomingCall(IncomingRequest):
    """An INVITE: a new call, or (with `dialog` set) a re-INVITE in an existing one."""

    transaction: InviteServerTransaction

    def __init__(
        self, ua: UserAgent, transaction: InviteServerTransaction, dialog: Dialog | None = None
    ) -> None:
        super().__init__(ua, transaction, dialog)
        self.is_reinvite = dialog is not None
        self.cancelled = asyncio.Event()
        #: called when the caller cancels (after `cancelled` is set): a hook for an application
        #: that would otherwise keep a task waiting on `cancelled` for every call
        self.on_cancel: Callable[[], None] | None = None
        self._no_answer: TimerHandle | None = None
        if not self.is_reinvite and ua.max_ring_time > 0:
            self._no_answer = ua.scheduler.call_later(ua.max_ring_time, self._ring_timeout)
        transaction.on_failure = self._failed

    @property
    def offer(self) -> bytes:
        """The INVITE's body (an SDP offer, or empty for a delayed offer)."""
        return self.request.body

    def ring(
        self,
        status: int = 180,
        reason: str | None = None,
        *,
        body: bytes = b"",
        content_type: str | MediaType | None = None,
        headers: HeaderItems = (),
    ) -> Response:
        """Send a provisional response (180 Ringing, 183 Session Progress with early media).

        Any tagged provisional creates the early dialog (RFC 3261 §12.1.1).
        """
        if not 100 <= status < 200:
            raise ValueError("ring() sends provisional responses")
        response = self.create_response(
            status, reason, headers=headers, body=body, content_type=content_type
        )
        if status > 100:
            self._ensure_dialog(DialogState.EARLY)
            response.headers.set_default("Contact", self.ua.contact_for(self.source))
        self.send(response)
        return response

    def progress(
        self, body: bytes = b"", content_type: str = "application/sdp", *, headers: HeaderItems = ()
    ) -> Response:
        """183 Session Progress, usually with an SDP answer for early media."""
        return self.ring(183, body=body, content_type=content_type, headers=headers)

    def answer(
        self,
        body: bytes = b"",
        content_type: str | MediaType = "application/sdp",
        *,
        status: int = 200,
        headers: HeaderItems = (),
    ) -> Dialog:
        """Send a 2xx; returns the dialog. The 2xx is retransmitted until the ACK arrives
        (await `dialog.wait_confirmed()` for it)."""
        if not 200 <= status < 300:
            raise ValueError("answer() sends 2xx responses")
        self._stop_no_answer()
        response = self.create_response(
            status, headers=headers, body=body, content_type=content_type
        )
        response.headers.set_default("Contact", self.ua.contact_for(self.source))
        dialog = self._ensure_dialog(DialogState.CONFIRMED)
        dialog.state = DialogState.CONFIRMED
        self.send(response)
        dialog.start_answer_retransmission(self.transaction, response)
        self._finished()  # a 2xx that cannot be delivered ends as "no ACK" (RFC 3261 §13.3.1.4)
        if self.is_reinvite:
            dialog._invite_in = None
        return dialog

    def reject(
        self, status: int = 486, reason: str | None = None, *, headers: HeaderItems = ()
    ) -> Response:
        """Send a final non-2xx (486 Busy Here, 603 Decline, 488 Not Acceptable Here ...)."""
        if status < 300:
            raise ValueError("reject() sends 3xx-6xx responses")
        self._stop_no_answer()
        response = self.respond(status, reason, headers=headers)
        self._refused(status)
        return response

    def send_statelessly(self, response: Response) -> None:
        if response.status < 300:
            raise ValueError("an INVITE is refused statelessly, never answered")
        self._stop_no_answer()
        super().send_statelessly(response)
        self._refused(response.status)

    def _refused(self, status: int) -> None:
        """A final non-2xx is out: the call is over before it began."""
        self._finished()
        if self.is_reinvite:
            if self.dialog is not None:
                self.dialog._invite_in = None
        elif self.dialog is not None:
            self.dialog._terminate(f"rejected with {status}")

    def redirect(self, contacts: Iterable[object], status: int = 302) -> Response:
        """A 3xx pointing the caller elsewhere."""
        return self.reject(status, headers=[("Contact", contact) for contact in contacts])

    def _ensure_dialog(self, state: DialogState) -> Dialog:
        dialog = self.dialog
        if dialog is None:
            dialog = Dialog.as_uas(self.ua, self.request, self.to_tag, self.source, state)
            self.dialog = dialog
            self.ua.register_dialog(dialog)
        return dialog

    def peer_cancelled(self) -> None:
        """The caller sent CANCEL before we answered: 487 and end the early dialog (§9.2)."""
        if self.answered:
            return
        self.cancelled.set()
        if self.on_cancel is not None:
            self.on_cancel()
        self.reject(487)

    def _finished(self) -> None:
        """The final response is out: the user agent need not find this call any more."""
        self.ua._calls.pop(self.transaction, None)
        self.transaction.on_failure = None

    def _ring_timeout(self) -> None:
        self._no_answer = None
        if not self.answered:
            self.reject(480, "No Answer")

    def _stop_no_answer(self) -> None:
        if self._no_answer is not None:
            self._no_answer.cancel()
            self._no_answer = None

    def _failed(self, transaction: ServerTransaction, error: Exception | None) -> None:
        """No ACK for our non-2xx, or the response could not be sent."""
        self._stop_no_answer()
        if self.dialog is not None and not self.is_reinvite:
            self.dialog._terminate("transport failure" if error else "no ACK")
