"""Idempotent operations under a client-supplied request id (BSS retries).

The operator's business system retries when a response is lost. The first request with a given id
does the work, and its result is stored in the same transaction; a retry with the same id and the
same input gets that result again without doing anything; the same id with different input is an
error. The record is inserted before the work, so that a concurrent duplicate waits on the unique
key (PostgreSQL) or on the write lock (SQLite), and on retry finds the finished record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.db import Base, Database, Scope
from zongji.platform.errors import Problem
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

M = TypeVar("M", bound=BaseModel)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class _Race(Exception):
    """A concurrent request with the same id committed first; retrying replays it."""


def _fingerprint(operation: str, payload: Any) -> str:
    canonical = json.dumps([operation, payload], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_request_id(key: str) -> str:
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise Problem(
            400,
            "invalid_request_id",
            "The request id must be 1 to 128 printable characters.",
            "请求编号须为 1 至 128 个可打印字符。",
        )
    return key


async def run_idempotent(
    db: Database,
    bus: EventBus,
    scope: Scope,
    *,
    owner: str,
    request_id: str | None,
    operation: str,
    payload: Any,
    now: datetime,
    result_type: type[M],
    work: Callable[[UnitOfWork], Awaitable[M]],
) -> M:
    """Run `work` in one unit of work, at most once per (`owner`, `request_id`)."""
    if request_id is None:
        async with UnitOfWork(db, bus, scope) as uow:
            return await work(uow)
    check_request_id(request_id)
    print_ = _fingerprint(operation, payload)
    for attempt in (1, 2):
        try:
            async with UnitOfWork(db, bus, scope) as uow:
                record = await uow.session.get(IdempotencyRecord, (owner, request_id))
                if record is not None:
                    if record.fingerprint != print_ or record.result is None:
                        raise Problem(
                            422,
                            "request_id_reused",
                            "This request id was already used for a different request.",
                            "该请求编号已用于另一个不同的请求。",
                        )
                    return result_type.model_validate(record.result)
                record = IdempotencyRecord(
                    owner=owner, key=request_id, fingerprint=print_, result=None, created_at=now
                )
                uow.session.add(record)
                try:
                    await uow.session.flush()
                except IntegrityError as exc:
                    raise _Race from exc
                result = await work(uow)
                record.result = result.model_dump(mode="json")
                return result
        except _Race:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
