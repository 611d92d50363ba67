"""The user agent: one SIP stack bound to transports, for the PBX, the registrar and tests.

`UserAgent` owns the transport layer, the transaction layer and the dialog table. Incoming
requests outside any dialog go to `on_request` (an `IncomingRequest`, or an `IncomingCall` for
INVITE); requests inside a dialog go to that dialog's `on_request`. Outgoing requests are
coroutines (`request()`, `options()`, `message()`) or objects (`invite()` -> `OutgoingCall`,
`registration()` -> `Registration`, `subscription()` -> `Subscription`).

Handlers may be plain functions or coroutines; a coroutine runs as a task of its own, so a
slow handler (a database lookup, a second call leg) never holds up other traffic.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from zongji.sip.address import NameAddress, parse_address
from zongji.sip.auth.client import Credentials, DigestClient
from zongji.sip.dialog import Dialog, DialogId, DialogSnapshot, DialogState
from zongji.sip.errors import SipParseError
from zongji.sip.fields import MediaType
from zongji.sip.headers import Headers
from zongji.sip.ids import new_branch, new_call_id, new_tag
from zongji.sip.message import KNOWN_METHODS, Request, Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.parser import DEFAULT_LIMITS, Limits
from zongji.sip.resolver import Resolver
from zongji.sip.timers import LoopScheduler, Scheduler, TimerSettings
from zongji.sip.transaction.layer import TransactionLayer
from zongji.sip.transaction.server import InviteServerTransaction, ServerTransaction
from zongji.sip.transport.base import Destination, Flow, Transport
from zongji.sip.transport.layer import TransportLayer
from zongji.sip.transport.stream import StreamSettings, StreamTransport
from zongji.sip.transport.udp import UdpTransport
from zongji.sip.ua.outgoing import OutgoingCall, PendingRequest, ProvisionalHandler, prepare_retry
from zongji.sip.ua.registration import Registration
from zongji.sip.ua.requests import IncomingCall, IncomingRequest
from zongji.sip.ua.subscription import Subscription
from zongji.sip.uri import SipUri, TelUri, Uri, parse_uri

log = logging.getLogger("zongji.sip.ua")

RequestHandler = Callable[[IncomingRequest], Awaitable[None] | None]
HeaderItems = Iterable[tuple[str, object]]

DEFAULT_ALLOW: Final = (
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "REFER", "NOTIFY",
    "SUBSCRIBE", "MESSAGE", "REGISTER",
)  # fmt: skip
_PAIR_ATTEMPTS: Final = 5  # UDP+TCP on one fresh number: tries before giving up
_DEFAULT_IN_DIALOG: Final = {"INFO": 200, "NOTIFY": 200, "OPTIONS": 200, "MESSAGE": 200,
                             "INVITE": 488, "UPDATE": 488, "REFER": 603}  # fmt: skip


class UserAgent:
    """A SIP user agent (UAC and UAS) on one or more transports."""

    def __init__(
        self,
        *,
        local_user: str = "zongji",
        user_agent: str | None = "Zongji",
        scheduler: Scheduler | None = None,
        settings: TimerSettings | None = None,
        limits: Limits = DEFAULT_LIMITS,
        supported: Iterable[str] = (),
        allowed_methods: Iterable[str] = DEFAULT_ALLOW,
        max_ring_time: float = 180.0,
        unanswered_request_timeout: float = 16.0,
        symmetric_dialogs: bool = False,
        outbound_proxy: SipUri | None = None,
    ) -> None:
        self.local_user = local_user
        self.user_agent = user_agent
        self.scheduler = scheduler or LoopScheduler()
        self.settings = settings or TimerSettings()
        self.transport = TransportLayer(limits=limits)
        self.transactions = TransactionLayer(self.transport, self.scheduler, self.settings)
        self.transactions.user = self
        self.transactions.discard_multiple_via = True
        self.supported = set(supported)
        self.allowed_methods = list(allowed_methods)
        self.max_ring_time = max_ring_time
        self.unanswered_request_timeout = unanswered_request_timeout
        self.symmetric_dialogs = symmetric_dialogs
        self.outbound_proxy = outbound_proxy
        self.resolver = Resolver()
        self.on_request: RequestHandler | None = None
        self.dialogs: dict[DialogId, Dialog] = {}
        self._calls: dict[InviteServerTransaction, IncomingCall] = {}
        self._pending_subscriptions: dict[tuple[str, str], Callable[[Request, Flow], Dialog]] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._contacts: dict[Transport, NameAddress] = {}
        # Open out-of-dialog server transactions by (Call-ID, From tag, CSeq, method).
        self._open_requests: dict[tuple[str, str, int, str], ServerTransaction] = {}
        self._open_keys: dict[ServerTransaction, tuple[str, str, int, str]] = {}

    # ------------------------------------------------------------------ transports

    async def listen(
        self,
        kind: TransportKind | str = TransportKind.UDP,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        advertised_host: str | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        stream_settings: StreamSettings | None = None,
    ) -> Transport:
        """Open a transport (port 0 picks a free port; read `transport.local_address`)."""
        transport = await self._open(
            TransportKind(str(kind).upper()),
            host,
            port,
            advertised_host=advertised_host,
            server_ssl=server_ssl,
            client_ssl=client_ssl,
            stream_settings=stream_settings,
        )
        self.add_transport(transport)
        return transport

    async def listen_udp_and_tcp(
        self, host: str, port: int = 0, *, advertised_host: str | None = None
    ) -> tuple[Transport, Transport]:
        """UDP and TCP on one port number, as phones expect of a registrar.

        With port 0 the number is whatever UDP got; another socket may hold TCP on that number
        (the two port spaces are separate), so then both are opened again on a fresh number.
        A port asked for by number gets no second try: the error says it is taken."""
        for attempt in range(_PAIR_ATTEMPTS):
            udp = await self._open(TransportKind.UDP, host, port, advertised_host=advertised_host)
            try:
                tcp = await self._open(
                    TransportKind.TCP, host, udp.local_address.port, advertised_host=advertised_host
                )
            except OSError as error:
                await udp.close()
                if port != 0 or error.errno != errno.EADDRINUSE or attempt + 1 == _PAIR_ATTEMPTS:
                    raise
                continue
            self.add_transport(udp)
            self.add_transport(tcp)
            return udp, tcp
        raise AssertionError("unreachable: the last attempt raises")

    async def _open(
        self,
        kind: TransportKind,
        host: str,
        port: int,
        *,
        advertised_host: str | None = None,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        stream_settings: StreamSettings | None = None,
    ) -> Transport:
        transport: Transport
        if kind is TransportKind.UDP:
            transport = await UdpTransport.bind(host, port, advertised_host=advertised_host)
        elif kind in (TransportKind.TCP, TransportKind.TLS):
            if kind is TransportKind.TLS and server_ssl is None:
                raise ValueError("TLS needs a server SSL context")
            stream = StreamTransport(
                kind,
                limits=self.transport.limits,
                settings=stream_settings,
                server_ssl=server_ssl,
                client_ssl=client_ssl if kind is TransportKind.TLS else None,
                advertised_host=advertised_host,
            )
            await stream.listen(host, port)
            transport = stream
        else:
            raise ValueError(f"{kind} transport is not available yet")
        return transport

    def add_transport(self, transport: Transport) -> None:
        self.transport.add(transport)

    async def close(self) -> None:
        """Stop: cancel handler tasks and close every transport."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()

    def track(self, task: asyncio.Task[object]) -> None:
        """Keep a background task alive until it finishes (and log its failure)."""
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def contact_for(self, flow: Flow | Transport | None = None) -> NameAddress:
        """Our Contact for requests and responses on `flow` (RFC 3261 §8.1.1.8)."""
        if isinstance(flow, Flow):
            transport = flow.transport
        elif flow is not None:
            transport = flow
        else:
            transport = self.transport.transports[0]
        contact = self._contacts.get(transport)
        if contact is None or contact.sip_uri.user != self.local_user:
            advertised = transport.advertised
            uri = SipUri(advertised.host, self.local_user, port=advertised.port)
            if transport.kind is not TransportKind.UDP:
                uri = uri.with_params(transport=transport.kind.lower())
            contact = self._contacts[transport] = NameAddress(uri)
        return contact

    # ------------------------------------------------------------------ TransactionUser

    def request_received(self, transaction: ServerTransaction) -> None:
        request = transaction.request
        method = request.method
        if method == "CANCEL":
            self._cancel_received(transaction)
            return
        to_tag = request.to_addr.tag
        if to_tag is not None:
            dialog = self.dialogs.get(
                DialogId(request.call_id, to_tag, request.from_addr.tag or "")
            )
            if dialog is None and method == "NOTIFY":
                dialog = self._dialog_from_notify(request, transaction.flow)
            if dialog is None:
                self._respond(transaction, 481)
                return
            self._in_dialog(dialog, transaction)
            return
        status, extra = self._screen(request)
        if status:
            self._respond(transaction, status, extra)
            return
        # A request that reached us twice by different paths (a forking proxy upstream) has
        # the same From tag, Call-ID and CSeq but another branch: 482 (RFC 3261 §8.2.2.2).
        merge_key = (request.call_id, request.from_addr.tag or "", request.cseq.number, method)
        if merge_key in self._open_requests:
            self._respond(transaction, 482)
            return
        self._open_requests[merge_key] = transaction
        self._open_keys[transaction] = merge_key
        transaction.on_terminated = self._forget_request
        if isinstance(transaction, InviteServerTransaction):
            call = IncomingCall(self, transaction)
            self._calls[transaction] = call
            self._dispatch(self.on_request, call)
        else:
            self._dispatch(self.on_request, IncomingRequest(self, transaction))

    def ack_received(self, ack: Request, flow: Flow) -> None:
        dialog = self.dialogs.get(
            DialogId(ack.call_id, ack.to_addr.tag or "", ack.from_addr.tag or "")
        )
        if dialog is not None:
            dialog.ack_received(ack)

    def stray_response(self, response: Response, flow: Flow) -> None:
        log.debug("response matching no transaction dropped: %r", response)

    # ------------------------------------------------------------------ incoming requests

    def _respond(
        self, transaction: ServerTransaction, status: int, headers: HeaderItems = ()
    ) -> None:
        response = transaction.request.create_response(status, to_tag=new_tag())
        for name, value in headers:
            response.headers.add(name, value)
        transaction.respond(response)

    def _screen(self, request: Request) -> tuple[int, list[tuple[str, object]]]:
        """UAS checks before the application sees a request (RFC 3261 §8.2.1 - §8.2.3)."""
        method = request.method
        if method not in self.allowed_methods:
            if method in KNOWN_METHODS:
                return 405, [("Allow", ", ".join(self.allowed_methods))]
            return 501, []
        if not isinstance(request.uri, (SipUri, TelUri)):
            return 416, []
        unsupported = [tag for tag in request.require if tag not in self.supported]
        if unsupported:
            return 420, [("Unsupported", ", ".join(unsupported))]
        if method == "INVITE":
            content_type = request.content_type
            if request.body and (
                content_type is None
                or content_type.mime not in ("application/sdp", "multipart/mixed")
            ):
                return 415, [("Accept", "application/sdp")]
            if "accept" in request.headers:
                accepted = {media.mime for media in request.accept}
                if accepted and not accepted & {"application/sdp", "application/*", "*/*"}:
                    return 406, [("Accept", "application/sdp")]
        return 0, []

    def _cancel_received(self, transaction: ServerTransaction) -> None:
        invite = self.transactions.find_invite(transaction.request)
        if invite is None:
            self._respond(transaction, 481)
            return
        transaction.respond(transaction.request.create_response(200, to_tag=new_tag()))
        call = self._calls.get(invite)
        if call is not None:
            call.peer_cancelled()
        elif not invite.final_sent:
            invite.respond(invite.request.create_response(487, to_tag=new_tag()))

    def _forget_call(self, transaction: ServerTransaction) -> None:
        if isinstance(transaction, InviteServerTransaction):
            self._calls.pop(transaction, None)

    def _forget_request(self, transaction: ServerTransaction) -> None:
        """An out-of-dialog server transaction ended: forget it for merge detection."""
        self._forget_call(transaction)
        key = self._open_keys.pop(transaction, None)
        if key is not None:
            self._open_requests.pop(key, None)

    def _in_dialog(self, dialog: Dialog, transaction: ServerTransaction) -> None:
        request = transaction.request
        method = request.method
        error = dialog.check_request(request)
        if error is not None:
            self._respond(transaction, error)
            return
        unsupported = [tag for tag in request.require if tag not in self.supported]
        if unsupported:
            self._respond(transaction, 420, [("Unsupported", ", ".join(unsupported))])
            return
        if method == "BYE":
            transaction.respond(request.create_response(200))
            dialog._terminate("remote BYE")
            return
        incoming: IncomingRequest
        if isinstance(transaction, InviteServerTransaction):
            if dialog._invite_out:
                self._respond(transaction, 491)  # glare (RFC 3261 §14.2)
                return
            if dialog._invite_in is not None:
                self._respond(transaction, 500, [("Retry-After", "1")])
                return
            call = IncomingCall(self, transaction, dialog)
            dialog._invite_in = transaction
            self._calls[transaction] = call
            transaction.on_terminated = self._forget_call
            incoming = call
        else:
            incoming = IncomingRequest(self, transaction, dialog)
        if dialog.on_request is None:
            status = _DEFAULT_IN_DIALOG.get(method, 501)
            if isinstance(incoming, IncomingCall):
                incoming.reject(status)
            else:
                incoming.respond(status)
            return
        self._dispatch(dialog.on_request, incoming)

    def _dispatch(self, handler: RequestHandler | None, incoming: IncomingRequest) -> None:
        if handler is None:
            if incoming.method == "OPTIONS":
                incoming.respond(200, headers=self._capabilities())
            elif isinstance(incoming, IncomingCall):
                incoming.reject(480)
            else:
                incoming.respond(405, headers=[("Allow", ", ".join(self.allowed_methods))])
            return
        try:
            result = handler(incoming)
        except Exception:
            log.exception("request handler failed for %r", incoming)
            self._answer_failure(incoming)
            return
        if inspect.isawaitable(result):
            self.track(asyncio.get_running_loop().create_task(self._run(result, incoming)))
        if not isinstance(incoming, IncomingCall) and not incoming.answered:
            incoming._deadline = self.scheduler.call_later(
                self.unanswered_request_timeout, lambda: self._answer_failure(incoming)
            )

    async def _run(self, result: Awaitable[None], incoming: IncomingRequest) -> None:
        try:
            await result
        except asyncio.CancelledError:
            self._answer_failure(incoming)
            raise
        except Exception:
            log.exception("request handler failed for %r", incoming)
            self._answer_failure(incoming)

    @staticmethod
    def _answer_failure(incoming: IncomingRequest) -> None:
        if not incoming.answered and not incoming.transaction.terminated:
            if isinstance(incoming, IncomingCall):
                incoming.reject(500)
            else:
                incoming.respond(500)

    def _capabilities(self) -> list[tuple[str, object]]:
        headers: list[tuple[str, object]] = [
            ("Allow", ", ".join(self.allowed_methods)),
            ("Accept", "application/sdp"),
        ]
        if self.supported:
            headers.append(("Supported", ", ".join(sorted(self.supported))))
        return headers

    # ------------------------------------------------------------------ dialogs

    def restore_dialog(self, snapshot: DialogSnapshot, *, skip_cseq: int = 0) -> Dialog:
        """A confirmed dialog from its `snapshot` (taken by this or an earlier process), to send
        requests in, typically a BYE. Its flow is built again from the stored transport and
        address on our transports (a connection, if any, is opened anew). `skip_cseq` is added
        to the stored local CSeq: requests sent after the snapshot was taken used numbers the
        snapshot does not know, and the peer wants ours to keep increasing (RFC 3261 §12.2.2).

        Raises `ValueError` when the snapshot cannot be read, `TransportLookupError` when we have
        no transport of its kind."""
        kind = TransportKind(snapshot.transport)
        flow = self.transport.flow_to(Destination(kind, HostPort(snapshot.host, snapshot.port)))
        try:
            local = parse_address(snapshot.local)
            remote = parse_address(snapshot.remote)
            target = parse_uri(snapshot.remote_target)
            routes = [parse_address(route) for route in snapshot.route_set]
        except SipParseError as error:
            raise ValueError(f"unreadable dialog snapshot: {error}") from error
        dialog = Dialog(
            self,
            call_id=snapshot.call_id,
            local=local,
            remote=remote,
            local_seq=snapshot.local_seq + skip_cseq,
            remote_seq=None,
            remote_target=target,
            route_set=routes,
            secure=snapshot.secure,
            is_uac=snapshot.is_uac,
            flow=flow,
            state=DialogState.CONFIRMED,
        )
        dialog.pinned = snapshot.pinned
        return dialog

    def register_dialog(self, dialog: Dialog) -> None:
        self.dialogs[dialog.id] = dialog

    def forget_dialog(self, dialog: Dialog) -> None:
        if self.dialogs.get(dialog.id) is dialog:
            del self.dialogs[dialog.id]

    async def send_in_dialog(self, dialog: Dialog, request: Request) -> Response:
        """Send an in-dialog request, answering one round of challenges if we can."""
        flow = await self._dialog_flow(dialog, request)
        response = await self._send(request, flow)
        if response.status in (401, 407) and dialog.credentials is not None:
            request.headers.pop_first("Via")
            dialog.local_seq += 1
            request.headers.set("CSeq", f"{dialog.local_seq} {request.method}")
            if dialog.credentials.authorize(request, response):
                response = await self._send(request, flow)
        return response

    def _fixed_flow(self, dialog: Dialog) -> Flow | None:
        """The flow a dialog's requests must take regardless of its remote target, if any."""
        if dialog.flow is not None and (
            dialog.pinned or (self.symmetric_dialogs and not dialog.is_uac)
        ):
            return dialog.flow
        return None

    async def _dialog_flow(self, dialog: Dialog, request: Request) -> Flow:
        fixed = self._fixed_flow(dialog)
        if fixed is not None:
            return fixed
        flow = dialog.flow
        destination = await self.resolver.resolve(self._next_hop(request), self._default_kind(flow))
        return self.transport.flow_to(destination)

    def send_ack(self, dialog: Dialog, ack: Request) -> tuple[bytes, Flow]:
        """Send the ACK for a 2xx (no transaction: RFC 3261 §13.2.2.4, §17.1.1.3)."""
        flow = self._fixed_flow(dialog)
        if flow is None:
            flow = dialog.flow
            destination = self.resolver.resolve_now(self._next_hop(ack), self._default_kind(flow))
            if destination is not None:
                flow = self.transport.flow_to(destination)
        assert flow is not None
        flow, data = self.transport.prepare_request(ack, flow, new_branch(), allow_switch=False)
        flow.send(data)
        return data, flow

    @staticmethod
    def _default_kind(flow: Flow | None) -> TransportKind:
        return flow.kind if flow is not None else TransportKind.UDP

    def _next_hop(self, request: Request) -> Uri:
        routes = request.route
        if routes:
            return routes[0].uri
        return request.uri

    def _dialog_from_notify(self, notify: Request, flow: Flow) -> Dialog | None:
        """A NOTIFY may arrive before the 2xx to our SUBSCRIBE (RFC 6665 §4.1.2.4)."""
        factory = self._pending_subscriptions.get((notify.call_id, notify.to_addr.tag or ""))
        return factory(notify, flow) if factory is not None else None

    # ------------------------------------------------------------------ outgoing requests

    def create_request(
        self,
        method: str,
        uri: Uri | str,
        *,
        from_: NameAddress | str | None = None,
        to: NameAddress | str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        contact: NameAddress | str | bool = True,
        headers: HeaderItems = (),
        body: bytes = b"",
        content_type: str | MediaType | None = None,
        flow: Flow | None = None,
    ) -> Request:
        """An out-of-dialog request with the fields RFC 3261 §8.1.1 requires.

        `contact=True` adds our Contact for `flow` to the methods that need one.
        """
        target = parse_uri(uri) if isinstance(uri, str) else uri
        if from_ is not None:
            sender = _address(from_)
        else:
            sender = NameAddress(_aor_of(self.contact_for(flow).uri))
        if sender.tag is None:
            sender = sender.with_tag(new_tag())
        out = Headers()
        out.add("Max-Forwards", "70")
        out.add("From", sender)
        out.add("To", _address(to) if to is not None else NameAddress(target))
        out.add("Call-ID", call_id or new_call_id())
        out.add("CSeq", f"{cseq} {method}")
        if contact is True:
            if method in ("INVITE", "SUBSCRIBE", "REFER", "REGISTER"):
                out.add("Contact", self.contact_for(flow))
        elif contact is not False:
            out.add("Contact", contact)
        if self.user_agent:
            out.add("User-Agent", self.user_agent)
        for name, value in headers:
            out.add(name, value)
        request = Request(method, target, out)
        if body:
            request.set_body(body, content_type or "application/sdp")
        return request

    async def flow_for(
        self, request: Request, destination: Destination | Flow | None = None
    ) -> Flow:
        """The flow a request goes out on: given, or its next hop resolved (RFC 3261 §8.1.2)."""
        if isinstance(destination, Flow):
            return destination
        if destination is None:
            uri: Uri
            if "route" in request.headers:
                uri = request.route[0].uri
            elif self.outbound_proxy is not None:
                uri = self.outbound_proxy
            else:
                uri = request.uri
            destination = await self.resolver.resolve(uri)
        return self.transport.flow_to(destination)

    async def _send(
        self, request: Request, flow: Flow, on_provisional: ProvisionalHandler | None = None
    ) -> Response:
        pending = PendingRequest(on_provisional)
        self.transactions.start_client(request, flow, pending)
        future = pending.future
        del pending
        try:
            return await future
        finally:
            # A timeout or transport error is raised out of `future`: its traceback holds this
            # frame, so the frame must not hold the future (a cycle only the collector frees)
            del future

    async def request(
        self,
        request: Request,
        *,
        destination: Destination | Flow | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
        on_provisional: ProvisionalHandler | None = None,
    ) -> Response:
        """Send a non-INVITE request and return its final response.

        With credentials, a 401/407 is answered once (twice if the nonce went stale).
        Raises `TransactionTimeout` or `TransportError` when no response can come.
        """
        if request.method in ("INVITE", "ACK", "CANCEL"):
            raise ValueError(f"use invite() / dialogs for {request.method}")
        flow = await self.flow_for(request, destination)
        auth = _digest_client(credentials)
        response = await self._send(request, flow, on_provisional)
        attempts = 0
        while response.status in (401, 407) and auth is not None and attempts < 2:
            attempts += 1
            prepare_retry(request)
            if not auth.authorize(request, response):
                break
            response = await self._send(request, flow, on_provisional)
        return response

    async def options(
        self,
        uri: Uri | str,
        *,
        destination: Destination | Flow | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
    ) -> Response:
        """OPTIONS (RFC 3261 §11): is the peer there, what can it do."""
        request = self.create_request("OPTIONS", uri)
        return await self.request(request, destination=destination, credentials=credentials)

    async def message(
        self,
        uri: Uri | str,
        text: str | bytes,
        content_type: str = "text/plain;charset=UTF-8",
        *,
        destination: Destination | Flow | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
    ) -> Response:
        """MESSAGE (RFC 3428): a page-mode instant message."""
        body = text.encode() if isinstance(text, str) else text
        request = self.create_request("MESSAGE", uri, body=body, content_type=content_type)
        return await self.request(request, destination=destination, credentials=credentials)

    def registration(
        self,
        registrar: Uri | str,
        aor: NameAddress | Uri | str,
        *,
        contact: NameAddress | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
        expires: int = 3600,
        destination: Destination | Flow | None = None,
    ) -> Registration:
        """A binding to keep at `registrar` (call `register()` once, or `start()`)."""
        return Registration(
            self,
            parse_uri(registrar) if isinstance(registrar, str) else registrar,
            aor
            if isinstance(aor, NameAddress)
            else NameAddress(parse_uri(aor) if isinstance(aor, str) else aor),
            contact=contact,
            auth=_digest_client(credentials),
            expires=expires,
            destination=destination,
        )

    def subscription(
        self,
        target: Uri | str,
        event: str,
        *,
        expires: int = 600,
        accept: str | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
        destination: Destination | Flow | None = None,
    ) -> Subscription:
        """A subscription to `event` at `target` (call `subscribe()`)."""
        return Subscription(
            self,
            parse_uri(target) if isinstance(target, str) else target,
            event,
            expires=expires,
            accept=accept,
            auth=_digest_client(credentials),
            destination=destination,
        )

    async def invite(
        self,
        to: Uri | str | NameAddress,
        *,
        from_: NameAddress | str | None = None,
        body: bytes = b"",
        content_type: str = "application/sdp",
        headers: HeaderItems = (),
        destination: Destination | Flow | None = None,
        credentials: Credentials | list[Credentials] | DigestClient | None = None,
        on_provisional: Callable[[Response, Dialog | None], None] | None = None,
        request_uri: Uri | str | None = None,
        pin_flow: bool = False,
    ) -> OutgoingCall:
        """Place a call: sends the INVITE and returns the `OutgoingCall` (await `answered()`).

        `pin_flow` (with a `Flow` as destination): the call's dialogs send everything on that
        flow, not to the Contact the callee answers with (a registered device behind NAT)."""
        to_address = (
            to
            if isinstance(to, NameAddress)
            else NameAddress(parse_uri(to) if isinstance(to, str) else to)
        )
        target = request_uri if request_uri is not None else to_address.uri
        request = self.create_request(
            "INVITE",
            target,
            from_=from_,
            to=to_address,
            headers=headers,
            body=body,
            content_type=content_type,
            contact=False,
        )
        flow = await self.flow_for(request, destination)
        if "contact" not in request.headers:
            request.headers.add("Contact", self.contact_for(flow))
        call = OutgoingCall(
            self,
            request,
            flow,
            auth=_digest_client(credentials),
            on_provisional=on_provisional,
            pin_flow=pin_flow,
        )
        call.start()
        return call


def _address(value: NameAddress | str) -> NameAddress:
    return value if isinstance(value, NameAddress) else parse_address(value)


def _aor_of(uri: Uri) -> Uri:
    """Our own address-of-record form of a contact URI (no transport parameter)."""
    return uri.without_params("transport") if isinstance(uri, SipUri) else uri


def _digest_client(
    credentials: Credentials | list[Credentials] | DigestClient | None,
) -> DigestClient | None:
    if credentials is None or isinstance(credentials, DigestClient):
        return credentials
    return DigestClient(credentials)
