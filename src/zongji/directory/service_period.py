"""Whether a user is in service: not suspended (OPS-3 停机) and within the validity period
(ADM-21), whose first and last days are dates in the enterprise's time zone, both included.

Outside service a user can do nothing: no login, no token refresh, no SIP registration, no call
placed (internal ones too; emergency numbers excepted), and calls to them are not put through.
Identity and call control both decide it here, so the login screen and the phone agree.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"


class ServiceState(StrEnum):
    IN_SERVICE = "in_service"
    SUSPENDED = "suspended"  # by the enterprise's admin or the operator, until resumed
    NOT_YET_VALID = "not_yet_valid"  # before valid_from
    EXPIRED = "expired"  # after valid_until


def within_validity(today: date, valid_from: date | None, valid_until: date | None) -> bool:
    if valid_from is not None and today < valid_from:
        return False
    return not (valid_until is not None and today > valid_until)


def service_state(
    today: date, *, suspended: bool, valid_from: date | None, valid_until: date | None
) -> ServiceState:
    if suspended:
        return ServiceState.SUSPENDED
    if valid_from is not None and today < valid_from:
        return ServiceState.NOT_YET_VALID
    if valid_until is not None and today > valid_until:
        return ServiceState.EXPIRED
    return ServiceState.IN_SERVICE


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_today(now: datetime, timezone: str) -> date:
    """Today in the enterprise's time zone (validity days are the enterprise's days)."""
    return now.astimezone(_zone(timezone)).date()
