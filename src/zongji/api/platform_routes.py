"""/api/v1/platform: the operator's view of platform-wide things: the SMS outbox and the SMS
delivery queue. Both show the redacted text: a login code is never readable here (outside the
demo, whose outbox stands in for the users' phones)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from zongji.api.deps import ServicesDep
from zongji.identity.web import Operator
from zongji.platform.sms import read_deliveries, recipient_filter

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
    """Messages the outbox gateway (development, tests, demo) has recorded, newest first; `to`
    in any common notation. Login codes are masked."""
    rows = await services.outbox.read(
        to=recipient_filter(to) if to else None, limit=limit, before=before
    )
    return [SmsOut.model_validate(r) for r in rows]


class SmsDeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    to: str
    text: str  # redacted
    tenant_id: uuid.UUID | None
    state: str  # queued, submitted, delivered, failed, expired
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime


@router.get("/sms-deliveries", response_model=list[SmsDeliveryOut])
async def sms_deliveries(
    operator: Operator,
    services: ServicesDep,
    to: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: datetime | None = None,
) -> list[SmsDeliveryOut]:
    """Messages sent through the carrier (the `smpp` gateway), newest first, with their
    delivery state: queued → submitted → delivered, failed or expired. Login codes are masked."""
    rows = await read_deliveries(
        services.db, to=recipient_filter(to) if to else None, limit=limit, before=before
    )
    return [SmsDeliveryOut.model_validate(r) for r in rows]
