"""/api/v1/platform: the operator's view of platform-wide things (the SMS outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from zongji.api.deps import Operator, ServicesDep
from zongji.platform.errors import field_error
from zongji.platform.phone import InvalidNumber, to_e164

router = APIRouter(prefix="/api/v1/platform", tags=["platform"])


class SmsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    to: str
    text: str
    tenant_id: uuid.UUID | None
    created_at: datetime


@router.get("/sms-outbox", response_model=list[SmsOut])
async def sms_outbox(
    operator: Operator,
    services: ServicesDep,
    to: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: datetime | None = None,
) -> list[SmsOut]:
    """Messages the outbox gateway has recorded, newest first."""
    if to:
        try:
            to = to_e164(to)
        except InvalidNumber as exc:
            raise field_error("to", "invalid_number", str(exc), "号码格式不正确。") from exc
    rows = await services.outbox.read(to=to, limit=limit, before=before)
    return [SmsOut.model_validate(r) for r in rows]
