"""SIP protocol library (RFC 3261 and friends).

Knows nothing of tenants, users or storage: the PBX builds on it, tests drive it directly.
Layers, bottom up (see docs/sip.md):

- messages: `parser.parse_message`, `message.Request`/`Response`, `uri`, `address`, `fields`
- transports: `transport.UdpTransport`, `transport.StreamTransport` (TCP, TLS),
  `transport.TransportLayer`
- transactions: `transaction.TransactionLayer` and the four state machines
- dialogs: `dialog.Dialog`
- user agent: `ua.UserAgent`, with `auth` (Digest) and `sdp`/`offer_answer` beside it

Other packages import it only from here (an import-linter contract, pyproject.toml): what they
need is exported below, so its modules can be rearranged without touching call control.
"""

from zongji.sip.address import NameAddress, parse_address, parse_address_list
from zongji.sip.auth.client import Credentials
from zongji.sip.auth.digest import DigestAlgorithm, compute_ha1
from zongji.sip.auth.server import AuthOutcome, DigestAuthenticator, DigestSecret
from zongji.sip.dialog import Dialog, DialogSnapshot, DialogState, DialogTerminated
from zongji.sip.errors import (
    MessageTooLarge,
    SipError,
    SipParseError,
    TransactionTimeout,
    TransportError,
    VersionNotSupported,
)
from zongji.sip.fields import CSeq, MediaType, Via
from zongji.sip.headers import Headers
from zongji.sip.message import Method, Request, Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.offer_answer import LocalMedia, NegotiatedAudio, SdpSession
from zongji.sip.parser import Limits, parse_message
from zongji.sip.sdp import Direction, SessionDescription, parse_sdp
from zongji.sip.timers import ManualScheduler, TimerSettings
from zongji.sip.transport.base import Destination, Flow, Transport
from zongji.sip.transport.tls import server_context
from zongji.sip.ua import (
    CallFailed,
    IncomingCall,
    IncomingRequest,
    OutgoingCall,
    Registration,
    Subscription,
    UserAgent,
)
from zongji.sip.ua.registration import Binding, parse_register
from zongji.sip.ua.subscription import accept_subscription
from zongji.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from zongji.sip.validation import validate_request, validate_response

__all__ = [
    "AbsoluteUri",
    "AuthOutcome",
    "Binding",
    "CSeq",
    "CallFailed",
    "Credentials",
    "Destination",
    "Dialog",
    "DialogSnapshot",
    "DialogState",
    "DialogTerminated",
    "DigestAlgorithm",
    "DigestAuthenticator",
    "DigestSecret",
    "Direction",
    "Flow",
    "Headers",
    "HostPort",
    "IncomingCall",
    "IncomingRequest",
    "Limits",
    "LocalMedia",
    "ManualScheduler",
    "MediaType",
    "MessageTooLarge",
    "Method",
    "NameAddress",
    "NegotiatedAudio",
    "OutgoingCall",
    "Registration",
    "Request",
    "Response",
    "SdpSession",
    "SessionDescription",
    "SipError",
    "SipParseError",
    "SipUri",
    "Subscription",
    "TelUri",
    "TimerSettings",
    "TransactionTimeout",
    "Transport",
    "TransportError",
    "TransportKind",
    "Uri",
    "UserAgent",
    "VersionNotSupported",
    "Via",
    "accept_subscription",
    "compute_ha1",
    "parse_address",
    "parse_address_list",
    "parse_message",
    "parse_register",
    "parse_sdp",
    "parse_uri",
    "server_context",
    "validate_request",
    "validate_response",
]
