"""/api/v1/me/contacts and /api/v1/me/favourites (DIR-7, DIR-8): private to each user."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, UploadFile, status

from zongji.directory.contacts import MAX_FILE_BYTES, ContactImportResult, ContactIn, ContactOut
from zongji.directory.favourites import FavouriteIn, FavouriteOut
from zongji.directory.web import DirectoryDeps
from zongji.identity.web import Employee
from zongji.platform.web import AddressDep

router = APIRouter(prefix="/api/v1/me", tags=["directory: personal"])


@router.get("/contacts", response_model=list[ContactOut])
async def my_contacts(user: Employee, services: DirectoryDeps) -> list[ContactOut]:
    """DIR-7: my personal contacts (only I see them), by name."""
    return await services.directory.contacts.all(user.tenant_id, user.subject_id)


@router.post("/contacts", response_model=ContactOut, status_code=status.HTTP_201_CREATED)
async def add_contact(
    body: ContactIn, user: Employee, services: DirectoryDeps, address: AddressDep
) -> ContactOut:
    """Add a personal contact: a name and up to several phone numbers."""
    return await services.directory.contacts.create(
        user.actor(address), user.tenant_id, user.subject_id, body
    )


@router.put("/contacts/{contact_id}", response_model=ContactOut)
async def change_contact(
    contact_id: uuid.UUID,
    body: ContactIn,
    user: Employee,
    services: DirectoryDeps,
    address: AddressDep,
) -> ContactOut:
    """Replace one of my personal contacts (the whole contact is sent)."""
    return await services.directory.contacts.change(
        user.actor(address), user.tenant_id, user.subject_id, contact_id, body
    )


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(
    contact_id: uuid.UUID, user: Employee, services: DirectoryDeps, address: AddressDep
) -> Response:
    """Delete one of my personal contacts."""
    await services.directory.contacts.delete(
        user.actor(address), user.tenant_id, user.subject_id, contact_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/contacts/import", response_model=ContactImportResult)
async def import_contacts(
    file: UploadFile, user: Employee, services: DirectoryDeps, address: AddressDep
) -> ContactImportResult:
    """vCard (.vcf) or CSV (姓名, 电话, 邮箱, 公司, 职务, 备注)."""
    data = await file.read(MAX_FILE_BYTES + 1)
    return await services.directory.contacts.import_file(
        user.actor(address), user.tenant_id, user.subject_id, file.filename or "", data
    )


@router.get("/favourites", response_model=list[FavouriteOut])
async def my_favourites(user: Employee, services: DirectoryDeps) -> list[FavouriteOut]:
    """DIR-8: my favourites (colleagues and personal contacts), in my order."""
    return await services.directory.favourites.all(user.tenant_id, user.subject_id)


@router.post("/favourites", response_model=list[FavouriteOut], status_code=status.HTTP_201_CREATED)
async def add_favourite(
    body: FavouriteIn, user: Employee, services: DirectoryDeps, address: AddressDep
) -> list[FavouriteOut]:
    """Add a colleague (`kind: user`) or a personal contact (`kind: contact`) to my
    favourites, at the end; answers the whole list."""
    return await services.directory.favourites.add(
        user.actor(address), user.tenant_id, user.subject_id, body
    )


@router.put("/favourites/order", response_model=list[FavouriteOut])
async def reorder_favourites(
    body: Annotated[
        list[uuid.UUID],
        Body(description="Every favourite's id (colleague or personal contact), each once"),
    ],
    user: Employee,
    services: DirectoryDeps,
    address: AddressDep,
) -> list[FavouriteOut]:
    """Put my favourites in a new order: the body lists every favourite's id, each once."""
    return await services.directory.favourites.reorder(
        user.actor(address), user.tenant_id, user.subject_id, body
    )


@router.delete("/favourites/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_favourite(
    target_id: uuid.UUID, user: Employee, services: DirectoryDeps, address: AddressDep
) -> Response:
    """Remove a colleague or personal contact from my favourites."""
    await services.directory.favourites.remove(
        user.actor(address), user.tenant_id, user.subject_id, target_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
