"""The month's usage row, made if missing: the one statement both billing paths use.

Whoever adds minutes to a user's month first makes sure its `MinuteUsage` row exists, with an
INSERT … ON CONFLICT DO NOTHING, so two first calls of a month (on any nodes) can never both
create it: the locked path (`quota.py`, in a tenant session, one row) before it locks the row,
and the bills behind the calls (`billing.py`, on a platform connection, many rows at once) before
they add to it. The statement is ORM-enabled (`insert(MinuteUsage)`), so a tenant session scopes
it (stamps and checks `tenant_id`), and a plain connection runs it as Core.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from zongji.pbx.policy.models import MinuteUsage
from zongji.platform.ids import uuid7


@cache
def open_months(dialect: str) -> Insert:
    """INSERT of months' usage rows, doing nothing for those that exist; the rows are the
    statement's parameters (`new_month`)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(MinuteUsage).on_conflict_do_nothing()


def new_month(
    tenant_id: uuid.UUID, user_id: uuid.UUID, month: str, now: datetime
) -> dict[str, Any]:
    """A usage row of nothing billed yet."""
    return {
        "id": uuid7(),
        "tenant_id": tenant_id,
        "user_id": user_id,
        "month": month,
        "billed_minutes": 0,
        "calls": 0,
        "updated_at": now,
    }
