"""Enterprises, users and dialled numbers as the call engine hands them to the policy."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.pbx.lines import nanjing, subscriber
from zongji.pbx.contracts import DialKind, Dialled
from zongji.platform.clock import FakeClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
__all__ = ["nanjing", "subscriber"]  # with the helpers below; defined in tests/pbx/lines.py

# Seen from an enterprise in Nanjing (area code 25)
LOCAL_LANDLINE = "+862584123456"
LOCAL_MOBILE = "+8618061234567"  # a Nanjing mobile block
OTHER_CITY_LANDLINE = "+861088888888"  # Beijing
OTHER_CITY_MOBILE = "+8613912345678"  # a Changzhou mobile block
SERVICE_400 = "+864008123456"
TOLL_FREE_800 = "+868008123456"
INTERNATIONAL = "+14155550123"
HONG_KONG = "+85221234567"


def outside(number: str) -> Dialled:
    return Dialled(DialKind.EXTERNAL, number, number)


def extension(number: str = "8002") -> Dialled:
    return Dialled(DialKind.EXTENSION, number, number)


def emergency(code: str = "110") -> Dialled:
    return Dialled(DialKind.EMERGENCY, code, code)


def set_local(clock: FakeClock, when: str, zone: ZoneInfo = SHANGHAI) -> None:
    """Move the fake clock to a local wall-clock time ("2026-01-05 09:00:00")."""
    target = datetime.fromisoformat(when).replace(tzinfo=zone).astimezone(UTC)
    clock.advance((target - clock.now()).total_seconds())
