"""/api/v1/directory/users and /api/v1/directory/me: users (DIR-1, DIR-4, DIR-5, DIR-6, CL-5).

Console admins and contact managers (from the client) use the same routes; every employee reads.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from zongji.directory.invitations import InvitationSent
from zongji.directory.user_schemas import ProfileChange, UserChange, UserCreate, UserOut, UserPage
from zongji.directory.users import AVATAR_MAX_BYTES
from zongji.directory.web import DirectoryDeps
from zongji.identity.models import Role, SubjectKind
from zongji.identity.principal import Principal
from zongji.identity.web import DirectoryManager, Employee, Member
from zongji.platform.errors import Problem
from zongji.platform.web import AddressDep, binary_body

router = APIRouter(prefix="/api/v1/directory", tags=["directory: users"])
AVATAR_BODY = binary_body(
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    description="The picture itself (not a form): PNG, JPEG, GIF or WebP, at most 2 MB.",
)


@router.get("/users", response_model=UserPage)
async def list_users(
    member: Member,
    services: DirectoryDeps,
    department_id: uuid.UUID | None = None,
    include_sub: bool = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> UserPage:
    """Directory order: pinned users by their order, then by pinyin (张三 under Z)."""
    return await services.directory.users.page(
        member.tenant_id,
        department_id=department_id,
        include_sub=include_sub,
        limit=limit,
        cursor=cursor,
    )


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, member: Member, services: DirectoryDeps) -> UserOut:
    """One colleague's directory entry (DIR-4)."""
    return await services.directory.users.get(member.tenant_id, user_id)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate, manager: DirectoryManager, services: DirectoryDeps, address: AddressDep
) -> UserOut:
    """Add a user (ADM-6, DIR-5). Contact managers set directory fields only: telephony
    policy and roles given by them are refused with 403 `field_not_permitted`."""
    return await services.directory.users.create(
        manager.actor(address), manager.tenant_id, body, may_set_policy=_console_admin(manager)
    )


@router.patch("/users/{user_id}", response_model=UserOut)
async def change_user(
    user_id: uuid.UUID,
    body: UserChange,
    manager: DirectoryManager,
    services: DirectoryDeps,
    address: AddressDep,
) -> UserOut:
    """Edit, move to another department (`department_id`), pin, change policy … Contact
    managers change directory fields only (their own entry included): a change to telephony
    policy or roles is refused with 403 `field_not_permitted` naming the field."""
    return await services.directory.users.change(
        manager.actor(address),
        manager.tenant_id,
        user_id,
        body,
        may_set_policy=_console_admin(manager),
    )


def _console_admin(principal: Principal) -> bool:
    """Telephony policy and roles are the console's (ADM-9…ADM-21), not the client's."""
    return Role.ENTERPRISE_ADMIN in principal.roles


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: uuid.UUID, manager: DirectoryManager, services: DirectoryDeps, address: AddressDep
) -> Response:
    """Delete a user: their direct line goes back to the pool, their favourites and personal
    contacts go too."""
    await services.directory.users.delete(manager.actor(address), manager.tenant_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _image(request: Request) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > AVATAR_MAX_BYTES:
            raise Problem(
                413,
                "avatar_too_large",
                "The picture is larger than 2 MB.",
                "头像图片不能超过 2 MB。",
            )
    return bytes(data)


@router.put("/users/{user_id}/avatar", response_model=UserOut, openapi_extra=AVATAR_BODY)
async def set_user_avatar(
    user_id: uuid.UUID,
    request: Request,
    manager: DirectoryManager,
    services: DirectoryDeps,
    address: AddressDep,
) -> UserOut:
    """The picture as the request body (PNG, JPEG, GIF or WebP, at most 2 MB)."""
    return await services.directory.users.set_avatar(
        manager.actor(address), manager.tenant_id, user_id, await _image(request)
    )


@router.get("/users/{user_id}/avatar", response_class=Response)
async def get_user_avatar(user_id: uuid.UUID, member: Member, services: DirectoryDeps) -> Response:
    """A user's picture (404 if none)."""
    data, media_type = await services.directory.users.avatar(member.tenant_id, user_id)
    return Response(
        data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"}
    )


@router.post("/users/{user_id}/invite", response_model=InvitationSent, status_code=202)
async def invite_user(
    user_id: uuid.UUID, member: Member, services: DirectoryDeps, address: AddressDep
) -> InvitationSent:
    """DIR-6: text an unregistered colleague the client's link (rate-limited)."""
    return await services.directory.invitations.invite(
        member.actor(address), member.tenant_id, member.kind is SubjectKind.USER, user_id
    )


@router.get("/me", response_model=UserOut)
async def my_profile(user: Employee, services: DirectoryDeps) -> UserOut:
    """CL-5: my own directory entry."""
    return await services.directory.users.get(user.tenant_id, user.subject_id)


@router.patch("/me", response_model=UserOut)
async def change_my_profile(
    body: ProfileChange, user: Employee, services: DirectoryDeps, address: AddressDep
) -> UserOut:
    """CL-5: users change their own name, phone, e-mail and address."""
    return await services.directory.users.change_profile(
        user.actor(address), user.tenant_id, user.subject_id, body
    )


@router.put("/me/avatar", response_model=UserOut, openapi_extra=AVATAR_BODY)
async def set_my_avatar(
    request: Request, user: Employee, services: DirectoryDeps, address: AddressDep
) -> UserOut:
    """My picture as the request body (PNG, JPEG, GIF or WebP, at most 2 MB)."""
    return await services.directory.users.set_avatar(
        user.actor(address), user.tenant_id, user.subject_id, await _image(request)
    )
