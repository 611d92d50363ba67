"""The refusal rules: stable codes (in call records and the API) and what the caller hears.

Codes never change once published; the prompt names are entries of the media prompt catalogue
(`zongji.media.prompts.catalog`).
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    ENTERPRISE_SUSPENDED = "enterprise_suspended"  # 停机/销户: nothing but emergency calls
    USER_SUSPENDED = "user_suspended"  # 停机 of the user (OPS-3): nothing but emergency calls
    VALIDITY = "validity"  # outside the user's validity period (ADM-21): likewise
    RESTRICTION = "restriction"  # the user's level doesn't include the number's class (ADM-15)
    INTERNATIONAL_DISABLED = "international_disabled"  # the operator hasn't enabled it (SEC-5)
    OUTBOUND_TIME = "outbound_time"  # workdays-only user outside working time (ADM-17)
    QUOTA_EXHAUSTED = "quota_exhausted"  # the month's minutes are used up or held (ADM-18)


PROMPTS: dict[Rule, str] = {
    Rule.ENTERPRISE_SUSPENDED: "call_not_permitted",
    Rule.USER_SUSPENDED: "call_not_permitted",
    Rule.VALIDITY: "call_not_permitted",
    Rule.RESTRICTION: "call_not_permitted",
    Rule.INTERNATIONAL_DISABLED: "call_not_permitted",
    Rule.OUTBOUND_TIME: "outbound_outside_hours",
    Rule.QUOTA_EXHAUSTED: "minutes_used_up",
}
