"""The transport layer of RFC 3261 §18: between the transports and the transaction layer.

Receiving: parse, check the fields every transaction needs, answer or drop what is malformed
(400/505/513 when there is a request to answer, silence otherwise), stamp `received`/`rport`
into the top Via of requests (RFC 3261 §18.2.1, RFC 3581 §4), drop responses whose top Via is
not ours (§18.1.2), and hand the rest up.
Sending: pick the transport, write our Via, switch a large request from UDP to TCP
(§18.1.1), and work out where responses go (§18.2.2, RFC 3581 §4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from zongji.sip.errors import SipParseError
from zongji.sip.fields import Via, parse_via_list
from zongji.sip.grammar import Params, quote
from zongji.sip.ids import new_tag
from zongji.sip.message import Request, Response, response_for
from zongji.sip.network import HostPort, TransportKind, is_ip_address, strip_brackets
from zongji.sip.parser import DEFAULT_LIMITS, Limits, parse_message
from zongji.sip.transport.base import Destination, ErrorCallback, Flow, Transport, log
from zongji.sip.validation import validate_request, validate_response

# RFC 3261 §18.1.1: a request larger than this goes over a congestion-controlled transport.
UDP_SIZE_THRESHOLD: Final = 1300

RequestHandler = Callable[[Request, Flow], None]
ResponseHandler = Callable[[Response, Flow], None]


@dataclass(slots=True)
class TransportStats:
    """Counters for what arrived and what became of it (tests and metrics read them)."""

    requests: int = 0
    responses: int = 0
    malformed_answered: int = 0
    malformed_dropped: int = 0
    foreign_responses: int = 0


class TransportLayer:
    """All transports of one SIP stack, and the receive and send rules of RFC 3261 §18."""

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.transports: list[Transport] = []
        self.on_request: RequestHandler | None = None
        self.on_response: ResponseHandler | None = None
        self.stats = TransportStats()
        self._sent_by: set[tuple[str, int]] = set()

    def add(self, transport: Transport) -> None:
        transport.receiver = self
        self.transports.append(transport)
        advertised = transport.advertised
        self._sent_by.add((strip_brackets(advertised.host).lower(), advertised.port))

    def transport_for(
        self, kind: TransportKind, remote: HostPort | None = None
    ) -> Transport | None:
        """A transport of `kind`, of the address family of `remote` when several qualify."""
        candidates = [t for t in self.transports if t.kind is kind]
        if remote is not None and len(candidates) > 1:
            v6 = ":" in remote.host
            same_family = [t for t in candidates if (":" in t.local_address.host) == v6]
            candidates = same_family or candidates
        return candidates[0] if candidates else None

    def flow_to(self, destination: Destination) -> Flow:
        """A flow for sending to `destination`, reusing an open connection to it."""
        transport = self.transport_for(destination.kind, destination.address)
        if transport is None:
            raise TransportLookupError(f"no {destination.kind} transport")
        return Flow(transport, destination.address, transport.connection_to(destination.address))

    async def close(self) -> None:
        for transport in self.transports:
            await transport.close()

    # ------------------------------------------------------------------ receiving

    def data_received(self, data: bytes, flow: Flow, datagram: bool) -> None:
        try:
            message = parse_message(data, datagram=datagram, limits=self.limits)
            if isinstance(message, Request):
                validate_request(message)
            else:
                validate_response(message)
        except SipParseError as error:
            self._reject(error, flow)
            return
        if isinstance(message, Request):
            self.stats.requests += 1
            self._stamp_received(message, flow)
            if self.on_request is not None:
                self.on_request(message, flow)
        else:
            self.stats.responses += 1
            via = message.top_via
            if (strip_brackets(via.host).lower(), via.sent_by.port) not in self._sent_by:
                self.stats.foreign_responses += 1  # §18.1.2: not a Via we wrote
                return
            if self.on_response is not None:
                self.on_response(message, flow)

    def framing_error(self, error: SipParseError, flow: Flow) -> None:
        self._reject(error, flow)

    def _reject(self, error: SipParseError, flow: Flow) -> None:
        """Answer a malformed request if we can; drop anything else (RFC 3261 §8.2, §18.3).

        Logged at debug level only: a flood of garbage must not become a flood of log lines
        (the counters in `stats` tell how much there was).
        """
        headers = error.request_headers
        cseq = headers.get("cseq") if headers is not None else None
        if headers is None or not headers.get("via") or (cseq and cseq.split()[-1:] == ["ACK"]):
            self.stats.malformed_dropped += 1
            log.debug("dropped malformed message from %s: %s", flow.remote, error.detail)
            return
        self.stats.malformed_answered += 1
        log.debug(
            "answering malformed request from %s with %d: %s",
            flow.remote,
            error.status,
            error.detail,
        )
        response = response_for(headers, error.status, error.reason)
        response.headers.add("Warning", f"399 zongji {quote(error.detail[:100])}")
        to = response.headers.get("to")
        if to is not None and ";tag=" not in to.replace(" ", ""):
            response.headers.replace_first("To", f"{to};tag={new_tag()}")
        try:
            out = response_flow(response.top_via, flow)
        except SipParseError:
            out = flow  # the Via itself is what is broken: answer the source
        out.send(response.encode())

    @staticmethod
    def _stamp_received(request: Request, flow: Flow) -> None:
        """Add received/rport to the top Via (RFC 3261 §18.2.1, RFC 3581 §4)."""
        via = request.top_via
        remote = flow.remote
        wants_rport = via.wants_rport
        if not wants_rport and strip_brackets(via.host) == remote.host:
            return
        # One copy of the parameters, adopted as they are: this runs for nearly every
        # request (phones ask for rport), so `with_param` twice and `replace` cost too much.
        items = via.params.items_copy()
        items["received"] = remote.host
        if wants_rport:
            items["rport"] = str(remote.port)
        stamped = via.with_new_params(Params.adopt(items))
        headers = request.headers
        first_line = headers.get("via") or ""
        if "," in first_line:
            rest = parse_via_list(first_line)[1:]
            text = ", ".join([str(stamped), *map(str, rest)])
        else:
            text = str(stamped)
        vias = request.via
        headers.replace_first("Via", text)
        headers.seed_parsed("via", [stamped, *vias[1:]])

    # ------------------------------------------------------------------ sending

    def prepare_request(
        self, request: Request, flow: Flow, branch: str, *, allow_switch: bool = True
    ) -> tuple[Flow, bytes]:
        """Add our top Via for `flow` and encode; a large UDP request moves to TCP (§18.1.1).

        Returns the flow to send on (maybe switched) and the bytes to send and retransmit.
        """
        request.headers.add("Via", self.via_for(flow.transport, branch), first=True)
        data = request.encode()
        if allow_switch and flow.kind is TransportKind.UDP and len(data) > UDP_SIZE_THRESHOLD:
            tcp = self.transport_for(TransportKind.TCP, flow.remote)
            if tcp is not None:
                flow = Flow(tcp, flow.remote, tcp.connection_to(flow.remote))
                request.headers.replace_first("Via", self.via_for(tcp, branch))
                data = request.encode()
        return flow, data

    @staticmethod
    def via_for(transport: Transport, branch: str) -> Via:
        advertised = transport.advertised
        return Via(
            transport.kind.value,
            advertised.host,
            advertised.port,
            Params.adopt({"branch": branch, "rport": None}),
        )

    def send_stateless(
        self, message: Request | Response, flow: Flow, on_error: ErrorCallback | None = None
    ) -> None:
        """Send an already complete message (an ACK for a 2xx, a stateless response)."""
        flow.send(message.encode(), on_error)


class TransportLookupError(SipParseError):
    """No transport can reach the requested destination."""

    status = 503
    reason = "Service Unavailable"


def response_flow(via: Via, request_flow: Flow) -> Flow:
    """Where the responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4).

    `via` is the request's top Via after `received`/`rport` were stamped into it.
    """
    transport = request_flow.transport
    if request_flow.reliable:
        connection = request_flow.connection
        if connection is not None and not connection.closed:
            return request_flow
        host = via.received or strip_brackets(via.host)
        return Flow(transport, HostPort(host, via.sent_by.port))
    if via.maddr is not None:
        destination = HostPort(strip_brackets(via.maddr), via.sent_by.port)
    elif via.received is not None:
        destination = HostPort(via.received, via.rport or via.sent_by.port)
    else:
        host = strip_brackets(via.host)
        if not is_ip_address(host):
            return request_flow  # never resolve a name to answer: answer the source
        destination = HostPort(host, via.sent_by.port)
    if destination == request_flow.remote:
        return request_flow  # the usual case: answer where it came from
    return Flow(transport, destination)
