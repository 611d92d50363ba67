"""SMSC delivery receipts (SMPP 3.4 Appendix B): which message, and what became of it.

A receipt is a deliver_sm with esm_class bit 0x04. Its message id and final state come in the
`receipted_message_id` and `message_state` TLVs when the SMSC sends them, and always in the
conventional text `id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:… text:…`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

ESM_CLASS_RECEIPT = 0x04
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    PENDING = "pending"  # an intermediate receipt (ENROUTE, ACCEPTD): nothing final yet


_STAT = {
    "DELIVRD": Outcome.DELIVERED,
    "EXPIRED": Outcome.EXPIRED,
    "UNDELIV": Outcome.FAILED,
    "REJECTD": Outcome.FAILED,
    "DELETED": Outcome.FAILED,
    "UNKNOWN": Outcome.FAILED,
    "ENROUTE": Outcome.PENDING,
    "ACCEPTD": Outcome.PENDING,
}
# message_state values (SMPP 3.4 §5.2.28)
_STATE = {
    1: Outcome.PENDING,
    2: Outcome.DELIVERED,
    3: Outcome.EXPIRED,
    4: Outcome.FAILED,
    5: Outcome.FAILED,
    6: Outcome.PENDING,
    7: Outcome.FAILED,
    8: Outcome.FAILED,
}
_ID = re.compile(rb"\bid:(\S+)", re.IGNORECASE)
_STAT_FIELD = re.compile(rb"\bstat:(\w+)", re.IGNORECASE)
_ERR = re.compile(rb"\berr:(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Receipt:
    message_id: str
    outcome: Outcome
    error: str  # the receipt's err: field ("000" when none)


def parse(short_message: bytes, tlvs: dict[int, bytes]) -> Receipt | None:
    """The receipt in a deliver_sm, or None if it names no message."""
    message_id: str | None = None
    outcome: Outcome | None = None
    if TLV_RECEIPTED_MESSAGE_ID in tlvs:
        message_id = tlvs[TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\x00").decode("ascii", "replace")
    if state := tlvs.get(TLV_MESSAGE_STATE):
        outcome = _STATE.get(state[0], Outcome.FAILED)
    if message_id is None and (found := _ID.search(short_message)):
        message_id = found.group(1).decode("ascii", "replace")
    if outcome is None and (stat := _STAT_FIELD.search(short_message)):
        outcome = _STAT.get(stat.group(1).decode("ascii", "replace").upper(), Outcome.FAILED)
    if not message_id or outcome is None:
        return None
    err = _ERR.search(short_message)
    return Receipt(message_id, outcome, err.group(1).decode("ascii", "replace") if err else "000")
