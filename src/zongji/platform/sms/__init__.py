"""Sending SMS: one interface (`SmsGateway`), three gateways.

- `OutboxGateway` (default, development and tests): keeps messages in the database for the
  operator to read, codes masked outside the demo (`outbox.py`).
- `HttpSmsGateway`: posts to a provider's HTTP API (`http.py`).
- `SmppGateway`: SMPP 3.4 to a carrier's SMSC, with a durable queue, retries and delivery
  receipts (`smpp.py`, `deliveries.py`, `ucs2.py`, `receipts.py`, `sealing.py`).
"""

from zongji.platform.sms.deliveries import (
    DeliveryState,
    SmsDelivery,
    SmsSegment,
    read_deliveries,
)
from zongji.platform.sms.http import HttpSmsGateway
from zongji.platform.sms.message import (
    MASK,
    SmsGateway,
    SmsMessage,
    recipient_filter,
    sms_unavailable,
)
from zongji.platform.sms.outbox import OutboxGateway, SmsOutboxEntry
from zongji.platform.sms.sealing import BodySeal
from zongji.platform.sms.smpp import SmppGateway, SmppLink

__all__ = [
    "MASK",
    "BodySeal",
    "DeliveryState",
    "HttpSmsGateway",
    "OutboxGateway",
    "SmppGateway",
    "SmppLink",
    "SmsDelivery",
    "SmsGateway",
    "SmsMessage",
    "SmsOutboxEntry",
    "SmsSegment",
    "read_deliveries",
    "recipient_filter",
    "sms_unavailable",
]
