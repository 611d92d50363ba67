"""/api/v1/directory/changes (DIR-3): incremental sync for clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zongji.directory.changes import ChangesOut
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import Member

router = APIRouter(prefix="/api/v1/directory", tags=["directory: sync"])


@router.get("/changes", response_model=ChangesOut)
async def directory_changes(
    member: Member,
    services: DirectoryDeps,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> ChangesOut:
    """Without a cursor: everything. With one: what changed since, deletions as ids. Ask again
    with the returned `cursor` while `has_more`."""
    return await services.directory.changes.since(member.tenant_id, cursor, limit)
