"""`zongji demo call <number>`: an inbound call "from outside" to a demo node, from a throwaway
user agent on the carrier simulator's address (so the PBX takes it for the demo trunk's), with
RFC 4733 digits after the greeting; prints what happened, then the call record the PBX wrote."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from zongji.demo.caller import CallReport, drain_events, place_call
from zongji.demo.telephony import sip_host
from zongji.media import LocalMediaServer
from zongji.platform.config import Settings
from zongji.platform.phone import InvalidNumber, to_e164
from zongji.sip import UserAgent

DEMO_AREA = "025"  # the demo enterprise's area code: local numbers without it are Nanjing's


def dialled(number: str) -> str:
    """E.164 when it is a phone number (025-84000000, 84000000, +8625...), else as typed."""
    try:
        return to_e164(number, area_code=DEMO_AREA)
    except InvalidNumber:
        return number


def pbx_address(settings: Settings, given: str | None) -> str:
    """The node's SIP address: given, else demo.json's registrar, else the settings'."""
    if given:
        return given
    demo = settings.data_dir / "demo.json"
    if demo.exists():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return str(json.loads(demo.read_text())["sip"]["registrar"])
    return f"{sip_host(settings)}:{settings.sip_port}"


async def _record_of(settings: Settings, caller: str, since: datetime, within: float = 5.0) -> Any:
    """The record the node wrote of our call, once closed (None if the database is not
    reachable): the newest inbound call from our number since we placed it."""
    from zongji.services import build_services

    try:
        services = build_services(settings)
    except Exception as error:
        print(f"(no call record: {error})", file=sys.stderr)
        return None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            record = await services.pbx.records.latest_inbound(caller, since)
            if (record is not None and record.ended_at is not None) or loop.time() > deadline:
                return record
            await asyncio.sleep(0.2)
    except Exception as error:
        print(f"(no call record: {error})", file=sys.stderr)
        return None
    finally:
        await services.close()


def _describe(record: Any) -> str:
    answered_by = record.answered_by_name or record.answered_by_number
    who = f"answered by {answered_by}" if answered_by else "not answered by anyone"
    callee = record.callee_name or record.callee_number
    return (
        f"call record: {record.direction} {record.caller_number} → {callee}; {who}; "
        f"status {record.status}; {record.billable_seconds} s"
    )


async def demo_call(
    settings: Settings,
    number: str,
    *,
    digits: str = "",
    wait: float = 3.0,
    hold: float = 30.0,
    caller: str = "+8613912345678",
    pbx: str | None = None,
    as_json: bool = False,
    out: Any = sys.stdout,
) -> int:
    """Place the call; 0 if it was answered, 1 if not."""
    host = settings.demo_carrier_host
    target = pbx_address(settings, pbx)
    caller = dialled(caller)  # E.164, as a carrier presents it (and as the record will have it)

    def say(text: str) -> None:
        if not as_json:
            print(text, file=out, flush=True)

    ua = UserAgent(local_user="carrier", user_agent="Zongji demo call")
    await ua.listen("udp", host, 0)
    media = LocalMediaServer(
        host=host, port_min=settings.rtp_port_min, port_max=settings.rtp_port_max
    )
    await media.start()
    draining = asyncio.ensure_future(drain_events(media))
    placed = datetime.now(UTC) - timedelta(seconds=2)  # another host's clock may differ a little
    try:
        report: CallReport = await place_call(
            ua,
            media,
            local_host=host,
            pbx=target,
            number=dialled(number),
            caller=caller,
            digits=digits,
            wait=wait,
            hold=hold,
            say=say,
        )
    finally:
        draining.cancel()
        await ua.close()
        await media.close()
    record = await _record_of(settings, caller, placed) if report.status is not None else None
    if as_json:
        result: dict[str, Any] = asdict(report)
        result["record"] = record.model_dump(mode="json") if record is not None else None
        print(json.dumps(result, ensure_ascii=False), file=out, flush=True)
    elif record is not None:
        say(_describe(record))
    return 0 if report.answered else 1
