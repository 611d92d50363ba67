"""What every SMS gateway shares: the message, the gateway interface, and its one failure.

A message may carry a secret (a login code). Gateways deliver the full text to the phone, but
whatever they keep or show (the outbox, the delivery queue, the operator's API) holds the
redacted text: outside the demo nobody but the phone's owner may ever read a code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from zongji.platform.errors import Problem, field_error
from zongji.platform.phone import InvalidNumber, to_e164

MASK = "******"


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    text: str
    tenant_id: uuid.UUID | None = None
    # The part of `text` nobody but the recipient may read (a login code); None: nothing secret.
    secret: str | None = None
    # How long the text is worth sending (a login code's lifetime); None: no limit.
    valid_for: timedelta | None = None

    @property
    def redacted_text(self) -> str:
        """The text as it may be stored and shown: every occurrence of the secret masked."""
        if not self.secret:
            return self.text
        return self.text.replace(self.secret, MASK)

    def __repr__(self) -> str:  # an exception or a log line must never show the secret
        return (
            f"SmsMessage(to={self.to!r}, text={self.redacted_text!r}, tenant_id={self.tenant_id})"
        )


class SmsGateway(Protocol):
    async def send(self, message: SmsMessage) -> None:
        """Hand the message over for delivery; raise `sms_unavailable()` if that failed."""
        ...


def sms_unavailable() -> Problem:
    return Problem(
        503,
        "sms_unavailable",
        "The SMS service is unavailable; try again later.",
        "短信服务暂不可用，请稍后再试。",
    )


def recipient_filter(raw: str) -> str:
    """A number as people type it (`138 0000 0002`, `+86…`) in the E.164 form messages are
    stored under, so that a search finds them; a clear 422 if it is no number."""
    try:
        return to_e164(raw)
    except InvalidNumber as exc:
        raise field_error("to", "invalid_number", str(exc), "号码格式不正确。") from exc
