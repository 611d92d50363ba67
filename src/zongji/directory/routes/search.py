"""/api/v1/directory/search (DIR-9, CALL-2): suggestions as you type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zongji.directory.search.service import SearchResult
from zongji.directory.web import DirectoryDeps
from zongji.identity.models import SubjectKind
from zongji.identity.web import Member

router = APIRouter(prefix="/api/v1/directory", tags=["directory: search"])


@router.get("/search", response_model=SearchResult)
async def search(
    member: Member,
    services: DirectoryDeps,
    q: Annotated[str, Query(max_length=64, description="Name, pinyin, initials, extension, phone")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResult:
    """Exact matches before prefix matches before fuzzy ones; within each, the searcher's
    favourites, then pinned users, then pinyin order; the searcher's personal contacts too."""
    user = member.subject_id if member.kind is SubjectKind.USER else None
    return await services.directory.search.search(member.tenant_id, q, user_id=user, limit=limit)
