"""Dialogs (RFC 3261 §12, §13.3.1.4, §14, §15): the peer-to-peer relationship a call lives in.

A `Dialog` keeps what RFC 3261 §12 says a dialog is (Call-ID, tags, sequence numbers, route
set, remote target) and is also the handle an application holds for a call: it sends
in-dialog requests (`bye()`, `reinvite()`, `info()`, `refer()`, `notify()` ...), hands incoming
ones to `on_request`, retransmits a 2xx to INVITE until the ACK arrives, and tells when it ends.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zongji.sip.address import NameAddress
from zongji.sip.errors import TransactionTimeout, TransportError
from zongji.sip.fields import MediaType
from zongji.sip.headers import Headers
from zongji.sip.message import Request, Response
from zongji.sip.timers import TimerHandle
from zongji.sip.transport.base import Flow
from zongji.sip.uri import SipUri, Uri

if TYPE_CHECKING:
    from zongji.sip.auth.client import DigestClient
    from zongji.sip.transaction.server import InviteServerTransaction
    from zongji.sip.ua.core import UserAgent
    from zongji.sip.ua.requests import IncomingRequest

log = logging.getLogger("zongji.sip.dialog")

HeaderItems = Iterable[tuple[str, object]]
RequestHandler = Callable[["IncomingRequest"], Awaitable[None] | None]

# Requests that may change the remote target (RFC 3261 §12.2, RFC 3311, RFC 3515, RFC 6665).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class DialogId:
    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(frozen=True, slots=True)
class DialogSnapshot:
    """A confirmed dialog written down: what it takes to send a request in it (a BYE) after the
    process that held it is gone. Plain strings and numbers, so it can be stored as JSON.

    `host`/`port`/`transport` are where the dialog's flow went; `pinned` says requests keep to
    it whatever the remote target says (see `Dialog.pinned`)."""

    call_id: str
    local: str  # our From (UAC) or To (UAS), with our tag
    remote: str
    remote_target: str
    route_set: tuple[str, ...]
    local_seq: int
    secure: bool
    is_uac: bool
    pinned: bool
    transport: str
    host: str
    port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "local": self.local,
            "remote": self.remote,
            "remote_target": self.remote_target,
            "route_set": list(self.route_set),
            "local_seq": self.local_seq,
            "secure": self.secure,
            "is_uac": self.is_uac,
            "pinned": self.pinned,
            "transport": self.transport,
            "host": self.host,
            "port": self.port,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DialogSnapshot:
        """Raises `ValueError` for data that is not a snapshot `to_json` wrote."""
        try:
            return cls(
                call_id=str(data["call_id"]),
                local=str(data["local"]),
                remote=str(data["remote"]),
                remote_target=str(data["remote_target"]),
                route_set=tuple(str(route) for route in data["route_set"]),
                local_seq=int(data["local_seq"]),
                secure=bool(data["secure"]),
                is_uac=bool(data["is_uac"]),
                pinned=bool(data["pinned"]),
                transport=str(data["transport"]),
                host=str(data["host"]),
                port=int(data["port"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a dialog snapshot: {error}") from error


class Dialog:
    """One dialog, as seen from our side (UAC or UAS)."""

    def __init__(
        self,
        ua: UserAgent,
        *,
        call_id: str,
        local: NameAddress,
        remote: NameAddress,
        local_seq: int,
        remote_seq: int | None,
        remote_target: Uri,
        route_set: list[NameAddress],
        secure: bool,
        is_uac: bool,
        flow: Flow | None,
        state: DialogState = DialogState.EARLY,
    ) -> None:
        self.ua = ua
        self.call_id = call_id
        self.local = local  # our From (UAC) or To (UAS), with our tag
        self.remote = remote  # theirs, with their tag
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.secure = secure
        self.is_uac = is_uac
        self.flow = flow  # the flow the dialog started on; reused for connections
        # Send every in-dialog request (ACK, BYE, re-INVITE …) on `flow`, whatever the remote
        # target says: a device behind NAT that registered on this flow gives a Contact nobody
        # can reach, so it is reached the way its registration came in (RFC 5626 §5.3).
        self.pinned = False
        self.state = state
        self.credentials: DigestClient | None = None  # answers challenges to our requests
        self.on_request: RequestHandler | None = None
        self.on_terminated: Callable[[Dialog], None] | None = None
        self.termination_reason = ""
        self.ack: Request | None = None  # the ACK that confirmed our 2xx (UAS)
        # Events are made only when someone waits: most dialogs are never waited on.
        self._terminated: asyncio.Event | None = None
        self._confirmed: asyncio.Event | None = None
        self._is_confirmed = state is DialogState.CONFIRMED
        self._retransmit: TimerHandle | None = None
        self._invite_out = False  # a re-INVITE of ours is pending (RFC 3261 §14.1)
        self._invite_in: InviteServerTransaction | None = None  # theirs awaits our answer
        self._last_ack: tuple[int, bytes, Flow] | None = None  # (CSeq, ACK bytes, flow) as UAC

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local.tag or "", self.remote.tag or "")

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @property
    def terminated(self) -> bool:
        return self.state is DialogState.TERMINATED

    def __repr__(self) -> str:
        role = "UAC" if self.is_uac else "UAS"
        return (
            f"<Dialog {role} {self.state.value} {self.call_id} {self.local_tag}/{self.remote_tag}>"
        )

    def snapshot(self) -> DialogSnapshot | None:
        """This dialog written down (`DialogSnapshot`); None before it has a flow."""
        flow = self.flow
        if flow is None:
            return None
        return DialogSnapshot(
            call_id=self.call_id,
            local=str(self.local),
            remote=str(self.remote),
            remote_target=str(self.remote_target),
            route_set=tuple(str(route) for route in self.route_set),
            local_seq=self.local_seq,
            secure=self.secure,
            is_uac=self.is_uac,
            pinned=self.pinned,
            transport=flow.kind.value,
            host=flow.remote.host,
            port=flow.remote.port,
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    def as_uas(
        cls, ua: UserAgent, request: Request, local_tag: str, flow: Flow, state: DialogState
    ) -> Dialog:
        """The dialog a UAS creates when it answers `request` with a tagged 1xx/2xx (§12.1.1)."""
        contacts = request.contacts
        target: Uri = contacts[0].uri if contacts else request.from_addr.uri
        uri = request.uri
        return cls(
            ua,
            call_id=request.call_id,
            local=request.to_addr.with_tag(local_tag),
            remote=request.from_addr,
            local_seq=0,
            remote_seq=request.cseq.number,
            remote_target=target,
            route_set=list(request.record_route),
            secure=isinstance(uri, SipUri) and uri.secure and flow.kind.secure,
            is_uac=False,
            flow=flow,
            state=state,
        )

    @classmethod
    def as_uac(cls, ua: UserAgent, request: Request, response: Response, flow: Flow) -> Dialog:
        """The dialog a UAC creates from a tagged 1xx/2xx to `request` (§12.1.2)."""
        contacts = response.contacts
        target: Uri = contacts[0].uri if contacts else request.uri
        uri = request.uri
        return cls(
            ua,
            call_id=request.call_id,
            local=request.from_addr,
            remote=response.to_addr,
            local_seq=request.cseq.number,
            remote_seq=None,
            remote_target=target,
            route_set=list(reversed(response.record_route)),
            secure=isinstance(uri, SipUri) and uri.secure,
            is_uac=True,
            flow=flow,
            state=DialogState.CONFIRMED if response.success else DialogState.EARLY,
        )

    # ------------------------------------------------------------------ requests we send

    def create_request(
        self,
        method: str,
        *,
        headers: HeaderItems = (),
        body: bytes = b"",
        content_type: str | MediaType | None = None,
        cseq: int | None = None,
    ) -> Request:
        """An in-dialog request (RFC 3261 §12.2.1.1): target, Route, tags, next CSeq."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        out = Headers()
        target: Uri = self.remote_target
        routes = self.route_set
        if routes and isinstance(routes[0].uri, SipUri) and not routes[0].uri.lr:
            # Strict routing (RFC 3261 §12.2.1.1): the first route becomes the Request-URI
            # and the remote target goes last in the Route set.
            target = routes[0].uri
            for route in routes[1:]:
                out.add("Route", route)
            out.add("Route", f"<{self.remote_target}>")
        else:
            for route in routes:
                out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("From", self.local)
        out.add("To", self.remote)
        out.add("Call-ID", self.call_id)
        out.add("CSeq", f"{cseq} {method}")
        if method in TARGET_REFRESH_METHODS:
            out.add("Contact", self.ua.contact_for(self.flow))
        for name, value in headers:
            out.add(name, value)
        request = Request(method, target, out)
        if body:
            request.set_body(body, content_type or "application/sdp")
        return request

    def create_ack(self, cseq: int, body: bytes = b"", content_type: str | None = None) -> Request:
        """The ACK for a 2xx to INVITE (RFC 3261 §13.2.2.4): same CSeq number, method ACK."""
        return self.create_request("ACK", body=body, content_type=content_type, cseq=cseq)

    async def request(
        self,
        method: str,
        *,
        headers: HeaderItems = (),
        body: bytes = b"",
        content_type: str | MediaType | None = None,
    ) -> Response:
        """Send an in-dialog request and wait for its final response.

        A 481 or 408 final response terminates the dialog (RFC 3261 §12.2.1.2).
        """
        if self.terminated:
            raise DialogTerminated(f"{self!r} is terminated")
        request = self.create_request(method, headers=headers, body=body, content_type=content_type)
        response = await self.ua.send_in_dialog(self, request)
        if response.status in (408, 481):
            self._terminate(f"{method} got {response.status}")
        return response

    async def bye(self, *, headers: HeaderItems = ()) -> Response | None:
        """End the call (RFC 3261 §15.1). Returns the BYE's response (None if it timed out)."""
        if self.terminated:
            return None
        self._stop_retransmit()
        request = self.create_request("BYE", headers=headers)
        self._terminate("local BYE")
        try:
            return await self.ua.send_in_dialog(self, request)
        except (TransactionTimeout, TransportError, OSError) as error:
            # the dialog is over here whatever the peer does; a peer gone for good is no error
            log.info("BYE in %r failed: %s", self, error)
            return None

    async def reinvite(
        self,
        body: bytes = b"",
        content_type: str | MediaType = "application/sdp",
        *,
        headers: HeaderItems = (),
    ) -> Response:
        """Send a re-INVITE (new offer, hold, target refresh); ACKs a 2xx; returns the final.

        A 491 means the peer was sending its own re-INVITE (glare, RFC 3261 §14.1): wait a
        random while and try again if the offer still matters.
        """
        if self.terminated:
            raise DialogTerminated(f"{self!r} is terminated")
        if self._invite_out or self._invite_in is not None:
            raise RuntimeError("an INVITE transaction is already in progress in this dialog")
        self._invite_out = True
        try:
            request = self.create_request(
                "INVITE", headers=headers, body=body, content_type=content_type
            )
            response = await self.ua.send_in_dialog(self, request)
            if response.success:
                self._refresh_target(response)
                self.send_ack(request.cseq.number)
            elif response.status in (408, 481):
                self._terminate(f"re-INVITE got {response.status}")
            return response
        finally:
            self._invite_out = False

    async def info(self, body: bytes, content_type: str, *, headers: HeaderItems = ()) -> Response:
        """INFO (RFC 6086), e.g. application/dtmf-relay."""
        return await self.request("INFO", headers=headers, body=body, content_type=content_type)

    async def update(
        self, body: bytes = b"", content_type: str = "application/sdp", *, headers: HeaderItems = ()
    ) -> Response:
        """UPDATE (RFC 3311): a new offer, possibly before the call is answered."""
        response = await self.request(
            "UPDATE", headers=headers, body=body, content_type=content_type
        )
        if response.success:
            self._refresh_target(response)
        return response

    async def refer(
        self, target: Uri | NameAddress | str, *, headers: HeaderItems = ()
    ) -> Response:
        """REFER (RFC 3515): ask the peer to call `target` (a blind transfer)."""
        refer_to = target if isinstance(target, (NameAddress, str)) else f"<{target}>"
        return await self.request("REFER", headers=[("Refer-To", refer_to), *headers])

    async def notify(
        self,
        event: str,
        subscription_state: str,
        body: bytes = b"",
        content_type: str | None = None,
        *,
        headers: HeaderItems = (),
    ) -> Response:
        """NOTIFY (RFC 6665) in a subscription dialog (or for a REFER, RFC 3515 §2.4.4)."""
        return await self.request(
            "NOTIFY",
            headers=[("Event", event), ("Subscription-State", subscription_state), *headers],
            body=body,
            content_type=content_type,
        )

    async def message(self, text: str, content_type: str = "text/plain") -> Response:
        """MESSAGE (RFC 3428) inside the dialog."""
        return await self.request("MESSAGE", body=text.encode(), content_type=content_type)

    # ------------------------------------------------------------------ ACK (as UAC)

    def send_ack(self, cseq: int, body: bytes = b"", content_type: str | None = None) -> None:
        """Send (and remember, for 2xx retransmissions) the ACK for INVITE `cseq`."""
        ack = self.create_ack(cseq, body, content_type)
        data, flow = self.ua.send_ack(self, ack)
        self._last_ack = (cseq, data, flow)

    def retransmit_ack(self, response: Response) -> None:
        """A 2xx was retransmitted: the UAC answers each with its ACK (RFC 3261 §13.2.2.4)."""
        last = self._last_ack
        if last is not None and last[0] == response.cseq.number:
            last[2].send(last[1])

    # ------------------------------------------------------------------ requests we receive

    def check_request(self, request: Request) -> int | None:
        """Apply RFC 3261 §12.2.2: CSeq order and target refresh. Returns an error status."""
        number = request.cseq.number
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_seq is not None and number <= self.remote_seq:
                return 500
            self.remote_seq = number
        if request.method in TARGET_REFRESH_METHODS and request.contacts:
            self.remote_target = request.contacts[0].uri
        return None

    def _refresh_target(self, response: Response) -> None:
        contacts = response.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    def ack_received(self, ack: Request) -> None:
        """The ACK for our 2xx: stop retransmitting, the dialog is confirmed."""
        if ack.cseq.number != self.remote_seq:
            return  # an ACK for an older INVITE: already handled
        self._stop_retransmit()
        self.ack = ack
        if self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED
        self._set_confirmed(True)

    # ------------------------------------------------------------------ 2xx retransmission (UAS)

    def start_answer_retransmission(
        self, transaction: InviteServerTransaction, response: Response
    ) -> None:
        """Retransmit our 2xx until the ACK comes (RFC 3261 §13.3.1.4, RFC 6026).

        Intervals start at T1 and double up to T2; after 64*T1 without an ACK the call is
        given up with a BYE, as §13.3.1.4 says.
        """
        self._set_confirmed(False)
        if transaction.response_flow.reliable:
            # Reliable transports need no retransmission, but the ACK still must come.
            self._arm_retransmit(transaction, response, None, 0.0)
            return
        self._arm_retransmit(transaction, response, self.ua.settings.t1, 0.0)

    def _arm_retransmit(
        self,
        transaction: InviteServerTransaction,
        response: Response,
        interval: float | None,
        elapsed: float,
    ) -> None:
        settings = self.ua.settings
        timeout = settings.timeout
        # The next retransmission, or the end of the 64*T1 window if that comes first.
        delay = timeout - elapsed if interval is None else min(interval, timeout - elapsed)

        def fire() -> None:
            self._retransmit = None
            if self._is_confirmed or self.terminated:
                return
            spent = elapsed + delay
            if spent >= timeout - 1e-9:
                log.info("no ACK for our 2xx in %r; hanging up", self)
                self._ack_timeout()
                return
            if not transaction.terminated:
                transaction.respond(response)
            assert interval is not None
            self._arm_retransmit(transaction, response, min(2 * interval, settings.t2), spent)

        self._retransmit = self.ua.scheduler.call_later(delay, fire)

    def _stop_retransmit(self) -> None:
        if self._retransmit is not None:
            self._retransmit.cancel()
            self._retransmit = None

    def _ack_timeout(self) -> None:
        self.termination_reason = "no ACK"
        task = asyncio.get_running_loop().create_task(self.bye())
        self.ua.track(task)

    def _set_confirmed(self, confirmed: bool) -> None:
        self._is_confirmed = confirmed
        if self._confirmed is not None:
            if confirmed:
                self._confirmed.set()
            else:
                self._confirmed.clear()

    async def wait_confirmed(self) -> None:
        """Until the dialog is confirmed (our 2xx was ACKed, or we got a 2xx)."""
        if self._is_confirmed:
            return
        if self._confirmed is None:
            self._confirmed = asyncio.Event()
        await self._confirmed.wait()

    # ------------------------------------------------------------------ the end

    def _terminate(self, reason: str) -> None:
        if self.state is DialogState.TERMINATED:
            return
        self.state = DialogState.TERMINATED
        if not self.termination_reason:
            self.termination_reason = reason
        self._stop_retransmit()
        self.ua.forget_dialog(self)
        if self._terminated is not None:
            self._terminated.set()
        self._set_confirmed(True)  # nobody waits for an ACK on an ended dialog
        on_terminated = self.on_terminated
        # An ended dialog gets no more requests (the user agent has forgotten it), so it lets go
        # of its handlers: they are bound to whoever holds the dialog (a PBX call leg holds it
        # and its `_in_dialog` is `on_request`), and the dialog itself lives on for up to 64*T1
        # in its INVITE transaction's retransmission absorption. Kept, the handlers would keep
        # the whole call alive that long, and the cycle leg -> dialog -> leg would leave it to
        # the cyclic garbage collector instead of reference counting.
        self.on_request = None
        self.on_terminated = None
        if on_terminated is not None:
            try:
                on_terminated(self)
            except Exception:
                log.exception("on_terminated handler failed")

    async def wait_terminated(self) -> str:
        """Until the dialog ends; returns why ("remote BYE", "local BYE", "no ACK" ...)."""
        if self.state is not DialogState.TERMINATED:
            if self._terminated is None:
                self._terminated = asyncio.Event()
            await self._terminated.wait()
        return self.termination_reason


class DialogTerminated(Exception):
    """A request was attempted on a dialog that has ended."""
