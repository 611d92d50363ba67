"""Shapes of the operation-log API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from zongji.audit.models import AuditLevel


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int
    at: datetime
    actor_kind: str
    actor_name: str
    address: str | None
    action: str
    target_type: str
    target_id: str | None
    target_label: str
    level: AuditLevel
    summary: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
