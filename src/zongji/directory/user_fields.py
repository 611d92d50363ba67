"""Who may set which of a user's fields (DIR-5 against ADM-9…ADM-21).

Contact managers (users with the admin flag, editing from the client) keep the directory: who
someone is and where to reach them. Telephony policy and roles stay with the enterprise's console
admins: a contact manager who could set outbound restriction, minutes, validity or the admin flag
could raise their own rights or hand them out, which is exactly what ADM-15…ADM-21 put in the
console. The rule is enforced here, per field, whichever route the change came through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zongji.platform.errors import Problem

DIRECTORY_FIELDS = frozenset(
    {
        "name",
        "mobile",
        "extension",
        "department_id",
        "title",
        "email",
        "phone",
        "address",
        "pinned",
        "pin_order",
    }
)
"""What a contact manager may set: the directory entry itself (DIR-4, ADM-6, ADM-7, ADM-11)."""

POLICY_FIELDS = frozenset(
    {
        "is_admin",  # ADM-9 / ADM-19: the contact-manager role itself
        "is_receptionist",  # ADM-10
        "conference_allowed",  # ADM-20
        "main_number",  # ADM-13: caller ID
        "direct_line",  # CALL-9: a number of the enterprise's pool
        "work_start",  # ADM-14
        "work_end",
        "outbound_restriction",  # ADM-15
        "outbound_mode",  # ADM-16
        "outbound_time",  # ADM-17
        "monthly_minutes",  # ADM-18
        "valid_from",  # ADM-21
        "valid_until",
    }
)
"""Telephony policy and roles: console admins only (ADM-9…ADM-21)."""


def refuse_policy_changes(given: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """403 `field_not_permitted` for the first policy field whose value `given` would change.

    A value equal to the current one (or, for a new user, to the default) is not a change:
    a client that sends back the whole form it was shown is not refused for fields it left alone.
    """
    for field in sorted(POLICY_FIELDS & given.keys()):
        if given[field] != current.get(field):
            raise Problem(
                403,
                "field_not_permitted",
                f"Only the enterprise's console admins may set {field}.",
                f"仅企业管理员可在管理后台设置 {field}。",
                extra={"field": field},
            )
