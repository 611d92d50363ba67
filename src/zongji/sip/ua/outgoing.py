"""Requests we send: a non-INVITE request as an awaitable, and an outgoing call.

`PendingRequest` turns a client transaction's callbacks into a future of the final response.
`OutgoingCall` drives an INVITE: provisional responses and early dialogs (one per To tag, so
forked early media shows up as several early dialogs), authentication retries, CANCEL (held
back until a provisional arrives, RFC 3261 §9.1), the ACK for the 2xx and forked 2xx.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from zongji.sip.auth.client import DigestClient
from zongji.sip.dialog import Dialog, DialogState
from zongji.sip.errors import SipError, TransactionTimeout, TransportError
from zongji.sip.message import Request, Response
from zongji.sip.timers import TimerHandle
from zongji.sip.transaction.client import ClientTransaction, InviteClientTransaction
from zongji.sip.transport.base import Flow

if TYPE_CHECKING:
    from zongji.sip.ua.core import UserAgent

log = logging.getLogger("zongji.sip.ua")

ProvisionalHandler = Callable[[Response], None]


class CallFailed(SipError):
    """An outgoing call ended without being answered: `response` is the final response."""

    def __init__(self, response: Response | None, detail: str = "", *, cancelled: bool = False):
        status = f"{response.status} {response.reason}" if response is not None else detail
        super().__init__(f"call failed: {status}")
        self.response = response
        self.cancelled = cancelled


def prepare_retry(request: Request) -> None:
    """Make a sent request sendable again: drop our Via, next CSeq (RFC 3261 §22.2)."""
    request.headers.pop_first("Via")
    cseq = request.cseq
    request.headers.set("CSeq", f"{cseq.number + 1} {cseq.method}")


class PendingRequest:
    """A non-INVITE client transaction as a future of its final response."""

    def __init__(self, on_provisional: ProvisionalHandler | None = None) -> None:
        self.future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.on_provisional = on_provisional

    def response_received(self, transaction: ClientTransaction, response: Response) -> None:
        if response.status < 200:
            if self.on_provisional is not None:
                self.on_provisional(response)
        elif not self.future.done():
            self.future.set_result(response)

    def timed_out(self, transaction: ClientTransaction) -> None:
        if not self.future.done():
            self.future.set_exception(TransactionTimeout(f"no response to {transaction.request!r}"))

    def transport_failed(self, transaction: ClientTransaction, error: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(TransportError(f"cannot send: {error}"))


class OutgoingCall:
    """An INVITE we sent; `await answered()` for the dialog, `cancel()` to give up."""

    def __init__(
        self,
        ua: UserAgent,
        request: Request,
        flow: Flow,
        *,
        auth: DigestClient | None = None,
        on_provisional: Callable[[Response, Dialog | None], None] | None = None,
        keep_forks: bool = False,
        pin_flow: bool = False,
    ) -> None:
        self.ua = ua
        self.pin_flow = pin_flow  # dialogs keep to `flow` (see `Dialog.pinned`)
        self.request = request
        self.flow = flow
        self.auth = auth
        self.on_provisional = on_provisional
        self.on_fork: Callable[[Dialog], None] | None = None
        self.keep_forks = keep_forks
        self.early_dialogs: dict[str, Dialog] = {}
        self.dialog: Dialog | None = None
        self.final_response: Response | None = None
        self.transaction: InviteClientTransaction | None = None
        self._answered: asyncio.Future[Dialog] = asyncio.get_running_loop().create_future()
        self._answered.add_done_callback(_consume_exception)
        self._got_provisional = False
        self._cancel_wanted = False
        self._cancel_sent = False
        self._cancel_timer: TimerHandle | None = None
        self._auth_attempts = 0

    # -- public

    def start(self) -> None:
        transaction = self.ua.transactions.start_client(self.request, self.flow, self)
        assert isinstance(transaction, InviteClientTransaction)
        self.transaction = transaction
        self.flow = transaction.flow

    def answered(self) -> asyncio.Future[Dialog]:
        """Await it for the dialog of the answered call; raises `CallFailed`,
        `TransactionTimeout` or `TransportError` otherwise. Cancelling the wait leaves the call.

        A future, not a coroutine of ours, so that a fork waits on several calls without a task
        each, and so that a failure is no cycle: an exception raised through a coroutine of this
        object records its frame, and so the object, in its traceback, and the exception is kept
        in `_answered`, which only the garbage collector would free."""
        return asyncio.shield(self._answered)

    @property
    def done(self) -> bool:
        return self._answered.done()

    def cancel(self) -> None:
        """Stop ringing (RFC 3261 §9.1). Sent once a provisional has come back."""
        if self._answered.done() or self._cancel_wanted:
            return
        self._cancel_wanted = True
        if self._got_provisional:
            self._send_cancel()

    # -- internals

    def _send_cancel(self) -> None:
        transaction = self.transaction
        if self._cancel_sent or transaction is None or transaction.terminated:
            return
        self._cancel_sent = True
        cancel = transaction.create_cancel()
        self.ua.transactions.start_client(
            cancel, transaction.flow, PendingRequest(), branch=transaction.branch
        )
        # If the INVITE gets no final response at all, give up after 64*T1 (§9.1).
        self._cancel_timer = self.ua.scheduler.call_later(
            self.ua.settings.timeout, self._cancel_timed_out
        )

    def _cancel_timed_out(self) -> None:
        self._fail(CallFailed(None, "no final response after CANCEL", cancelled=True))

    def _dialog_for(self, response: Response, state: DialogState) -> Dialog | None:
        tag = response.to_addr.tag
        if tag is None:
            return None
        dialog = self.early_dialogs.get(tag)
        if dialog is None or dialog.terminated:
            dialog = Dialog.as_uac(self.ua, self.request, response, self.flow)
            dialog.pinned = self.pin_flow
            dialog.credentials = self.auth
            self.early_dialogs[tag] = dialog
            self.ua.register_dialog(dialog)
        elif state is DialogState.CONFIRMED and dialog.state is DialogState.EARLY:
            # The 2xx fixes the dialog: its Contact and Record-Route win (RFC 3261 §12.1.2).
            dialog.state = DialogState.CONFIRMED
            dialog.route_set = list(reversed(response.record_route))
            contacts = response.contacts
            if contacts:
                dialog.remote_target = contacts[0].uri
            dialog._set_confirmed(True)
        return dialog

    def response_received(self, transaction: ClientTransaction, response: Response) -> None:
        status = response.status
        if status < 200:
            self._got_provisional = True
            dialog = self._dialog_for(response, DialogState.EARLY) if status > 100 else None
            if self.on_provisional is not None:
                try:
                    self.on_provisional(response, dialog)
                except Exception:
                    log.exception("on_provisional handler failed")
            if self._cancel_wanted:
                self._send_cancel()
            return
        if status < 300:
            self._accepted(response)
            return
        if status in (401, 407) and self._retry_with_credentials(response):
            return
        self.final_response = response
        self._fail(CallFailed(response, cancelled=self._cancel_wanted))

    def _accepted(self, response: Response) -> None:
        dialog = self._dialog_for(response, DialogState.CONFIRMED)
        if dialog is None:
            log.warning("2xx to INVITE without To tag; ignored")
            return
        last_ack = dialog._last_ack
        if last_ack is not None and last_ack[0] == response.cseq.number:
            dialog.retransmit_ack(response)  # a retransmitted 2xx
            return
        dialog.send_ack(self.request.cseq.number)
        if self.dialog is None and not self._cancel_wanted:
            self.dialog = dialog
            self.final_response = response
            self._stop_cancel_timer()
            self.on_provisional = None  # no provisional follows a 2xx
            for other in self.early_dialogs.values():
                if other is not dialog and other.state is DialogState.EARLY:
                    other._terminate("another fork answered")
            if not self._answered.done():
                self._answered.set_result(dialog)
            return
        # Another fork answered too, or we wanted to cancel: RFC 3261 §13.2.2.4 lets the UAC
        # hang up the extra dialog.
        if self.keep_forks and self.on_fork is not None and not self._cancel_wanted:
            self.on_fork(dialog)
            return
        self.ua.track(asyncio.get_running_loop().create_task(dialog.bye()))
        if self._cancel_wanted and self.dialog is None:
            self.final_response = response
            self._fail(CallFailed(response, "answered after CANCEL", cancelled=True))

    def _retry_with_credentials(self, challenge: Response) -> bool:
        auth = self.auth
        if auth is None or self._auth_attempts >= 2 or self._cancel_wanted:
            return False
        self._auth_attempts += 1
        prepare_retry(self.request)
        if not auth.authorize(self.request, challenge):
            return False
        self._got_provisional = False
        self.start()
        return True

    def timed_out(self, transaction: ClientTransaction) -> None:
        self._fail(TransactionTimeout("no response to INVITE"))

    def transport_failed(self, transaction: ClientTransaction, error: Exception) -> None:
        self._fail(TransportError(f"cannot send INVITE: {error}"))

    def _fail(self, error: Exception) -> None:
        self._stop_cancel_timer()
        # The call is over: let go of the caller's handler (it is bound to the caller's call
        # state, which must not live on in the INVITE transaction's Timer D).
        self.on_provisional = None
        self.on_fork = None
        for dialog in self.early_dialogs.values():
            if dialog is not self.dialog and dialog.state is DialogState.EARLY:
                dialog._terminate("call failed")
        if not self._answered.done():
            self._answered.set_exception(error)

    def _stop_cancel_timer(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer.cancel()
            self._cancel_timer = None


def _consume_exception(future: asyncio.Future[Dialog]) -> None:
    """A call nobody awaits must not log 'exception was never retrieved'."""
    if not future.cancelled():
        future.exception()
