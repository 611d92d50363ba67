"""The user-agent API the PBX, the registrar and the tests build on."""

from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.outgoing import CallFailed, OutgoingCall
from zongji.sip.ua.registration import Binding, RegisterRequest, Registration, parse_register
from zongji.sip.ua.requests import IncomingCall, IncomingRequest
from zongji.sip.ua.subscription import Subscription, accept_subscription

__all__ = [
    "Binding",
    "CallFailed",
    "IncomingCall",
    "IncomingRequest",
    "OutgoingCall",
    "RegisterRequest",
    "Registration",
    "Subscription",
    "UserAgent",
    "accept_subscription",
    "parse_register",
]
