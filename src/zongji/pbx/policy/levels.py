"""Restriction levels (ADM-15, SEC-5): which number classes each 外呼限制 level may call.

Each level includes the ones before it. International calls need two keys: the user's level, set by
the enterprise, and the operator's switch for the enterprise (`international_calling`, off by
default), so an enterprise admin alone can never open international calling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zongji.directory.models import OutboundRestriction
from zongji.pbx.contracts import NumberClass

_ORDER = (
    OutboundRestriction.INTERNAL,
    OutboundRestriction.LOCAL,
    OutboundRestriction.DOMESTIC,
    OutboundRestriction.INTERNATIONAL,
)
_NEEDS: dict[NumberClass, OutboundRestriction] = {
    NumberClass.INTERNAL: OutboundRestriction.INTERNAL,
    NumberClass.LOCAL: OutboundRestriction.LOCAL,
    NumberClass.DOMESTIC: OutboundRestriction.DOMESTIC,
    NumberClass.INTERNATIONAL: OutboundRestriction.INTERNATIONAL,
}

INTERNATIONAL_FEATURE = "international_calling"


def international_enabled(features: Mapping[str, Any]) -> bool:
    """The operator's switch (SEC-5); absent means off."""
    return bool(features.get(INTERNATIONAL_FEATURE, False))


def level_of(value: str) -> OutboundRestriction:
    """The user's level; an unknown stored value is treated as the most restrictive one."""
    try:
        return OutboundRestriction(value)
    except ValueError:
        return OutboundRestriction.INTERNAL


def permits(level: OutboundRestriction, number_class: NumberClass) -> bool:
    """Does this level include calls of this class? (Emergency calls are never restricted.)"""
    if number_class is NumberClass.EMERGENCY:
        return True
    return _ORDER.index(level) >= _ORDER.index(_NEEDS[number_class])


def refusal(
    level: OutboundRestriction, number_class: NumberClass, features: Mapping[str, Any]
) -> str | None:
    """The rule that refuses this call, or None: `restriction` when the level doesn't include
    the class, `international_disabled` when only the operator's switch is missing."""
    if not permits(level, number_class):
        return "restriction"
    if number_class is NumberClass.INTERNATIONAL and not international_enabled(features):
        return "international_disabled"
    return None
