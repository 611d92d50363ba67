"""Ending the calls a dead node left behind.

A node that dies mid-call (killed, power cut) leaves both phones of each call in a dialog with
nobody: they hear silence until their user hangs up or their media timeout fires, and a phone
that never notices keeps the line "busy". The call's open record holds its dialogs (written at
answer: Call-ID, tags, route set, remote target, the flow's transport and address, our CSeq);
when the node starts again it closes the record as interrupted and sends each leg a BYE in that
dialog, from the same SIP address as before.

Our CSeq in a dialog may have moved past the recorded one (re-INVITEs for hold, INFO) before
the crash; a BYE must carry a higher one than the peer last saw (RFC 3261 §12.2.2), so it skips
ahead by `CSEQ_SKIP`. A leg that does not answer (the phone is gone too) costs one transaction
timeout in the background; the node takes calls meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from zongji.pbx.records.service import InterruptedCall
from zongji.sip import DialogSnapshot, UserAgent

log = logging.getLogger(__name__)

CSEQ_SKIP = 1000
"""How far a recovery BYE's CSeq skips past the recorded one (requests the record missed)."""


async def end_interrupted_calls(ua: UserAgent, calls: Sequence[InterruptedCall]) -> int:
    """Send a BYE to every leg of `calls`; returns how many legs answered it."""
    byes = [_bye(ua, call, leg) for call in calls for leg in call.legs]
    results = await asyncio.gather(*byes)
    answered = sum(results)
    if byes:
        log.warning(
            "legs of interrupted calls sent BYE",
            extra={"calls": len(calls), "legs": len(byes), "answered": answered},
        )
    return answered


async def _bye(ua: UserAgent, call: InterruptedCall, leg: DialogSnapshot) -> bool:
    try:
        dialog = ua.restore_dialog(leg, skip_cseq=CSEQ_SKIP)
        response = await dialog.bye()
    except Exception as error:  # one leg's trouble must not stop the others
        log.info("BYE for interrupted call %s not sent: %s", call.call_id, error)
        return False
    return response is not None
