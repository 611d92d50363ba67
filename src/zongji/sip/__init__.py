"""SIP protocol library (RFC 3261 and friends).

Knows nothing of tenants, users or storage: the PBX builds on it, tests drive it directly.
Layers, bottom up (see docs/sip.md):

- messages: `parser.parse_message`, `message.Request`/`Response`, `uri`, `address`, `fields`
- transports: `transport.UdpTransport`, `transport.StreamTransport` (TCP, TLS),
  `transport.TransportLayer`
- transactions: `transaction.TransactionLayer` and the four state machines
- dialogs: `dialog.Dialog`
- user agent: `ua.UserAgent`, with `auth` (Digest) and `sdp`/`offer_answer` beside it
"""

from zongji.sip.address import NameAddress, parse_address, parse_address_list
from zongji.sip.dialog import Dialog, DialogState
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
from zongji.sip.parser import Limits, parse_message
from zongji.sip.timers import ManualScheduler, TimerSettings
from zongji.sip.transport.base import Destination, Flow
from zongji.sip.ua import (
    CallFailed,
    IncomingCall,
    IncomingRequest,
    OutgoingCall,
    Registration,
    Subscription,
    UserAgent,
)
from zongji.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri

__all__ = [
    "AbsoluteUri",
    "CSeq",
    "CallFailed",
    "Destination",
    "Dialog",
    "DialogState",
    "Flow",
    "Headers",
    "HostPort",
    "IncomingCall",
    "IncomingRequest",
    "Limits",
    "ManualScheduler",
    "MediaType",
    "MessageTooLarge",
    "Method",
    "NameAddress",
    "OutgoingCall",
    "Registration",
    "Request",
    "Response",
    "SipError",
    "SipParseError",
    "SipUri",
    "Subscription",
    "TelUri",
    "TimerSettings",
    "TransactionTimeout",
    "TransportError",
    "TransportKind",
    "Uri",
    "UserAgent",
    "VersionNotSupported",
    "Via",
    "parse_address",
    "parse_address_list",
    "parse_message",
    "parse_uri",
]
