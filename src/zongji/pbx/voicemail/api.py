"""A user's own voicemail over HTTP: messages (list, audio, heard, delete), greeting, settings.

Every route is the caller's own box: the tenant and user come from the token, never from the
request, so another user's message is simply not found.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from zongji.identity.web import Employee
from zongji.pbx.voicemail.audio import GREETING_MAX_BYTES, greeting_too_large
from zongji.pbx.voicemail.schemas import BoxSettingsOut, MessageList, MessageOut, SettingsChange
from zongji.pbx.web import PbxDeps
from zongji.platform.web import binary_body

router = APIRouter(prefix="/api/v1/me/voicemail", tags=["pbx: voicemail"])

_WAV = {"Cache-Control": "private, no-store"}


@router.get("", response_model=MessageList)
async def my_messages(user: Employee, services: PbxDeps) -> MessageList:
    """CALL-10: the messages left for me, newest first, with how many I have not heard."""
    return await services.pbx.voicemail.mailbox.messages(user.tenant_id, user.subject_id)


@router.get("/settings", response_model=BoxSettingsOut)
async def my_settings(user: Employee, services: PbxDeps) -> BoxSettingsOut:
    """My voicemail box: on or off, and whether my own greeting is used."""
    return await services.pbx.voicemail.mailbox.settings_out(user.tenant_id, user.subject_id)


@router.patch("/settings", response_model=BoxSettingsOut)
async def change_my_settings(
    body: SettingsChange, user: Employee, services: PbxDeps
) -> BoxSettingsOut:
    """Turn my box on or off (off: unanswered calls just end, nobody is offered voicemail)."""
    return await services.pbx.voicemail.mailbox.set_enabled(
        user.tenant_id, user.subject_id, body.enabled
    )


@router.get("/greeting", response_class=Response)
async def my_greeting(user: Employee, services: PbxDeps) -> Response:
    """My own greeting as an 8 kHz mono WAV (404 while I use the default one)."""
    data = await services.pbx.voicemail.mailbox.greeting_audio(user.tenant_id, user.subject_id)
    return Response(data, media_type="audio/wav", headers=_WAV)


@router.put(
    "/greeting",
    response_model=BoxSettingsOut,
    openapi_extra=binary_body(
        "audio/wav", description="A WAV file itself (not a form), at most 60 seconds."
    ),
)
async def set_my_greeting(request: Request, user: Employee, services: PbxDeps) -> BoxSettingsOut:
    """Any WAV file as the request body (at most 60 s); stored converted to 8 kHz mono."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > GREETING_MAX_BYTES:
            raise greeting_too_large()
    return await services.pbx.voicemail.mailbox.set_greeting(
        user.tenant_id, user.subject_id, bytes(data)
    )


@router.delete("/greeting", response_model=BoxSettingsOut)
async def clear_my_greeting(user: Employee, services: PbxDeps) -> BoxSettingsOut:
    """Back to the platform's default greeting."""
    return await services.pbx.voicemail.mailbox.clear_greeting(user.tenant_id, user.subject_id)


@router.get("/{message_id}/audio", response_class=Response)
async def message_audio(message_id: uuid.UUID, user: Employee, services: PbxDeps) -> Response:
    """One of my messages as a WAV file."""
    data = await services.pbx.voicemail.mailbox.audio(user.tenant_id, user.subject_id, message_id)
    return Response(
        data,
        media_type="audio/wav",
        headers={**_WAV, "Content-Disposition": f'attachment; filename="{message_id}.wav"'},
    )


@router.post("/{message_id}/heard", response_model=MessageOut)
async def mark_heard(message_id: uuid.UUID, user: Employee, services: PbxDeps) -> MessageOut:
    """Mark one of my messages heard."""
    return await services.pbx.voicemail.mailbox.mark_heard(
        user.tenant_id, user.subject_id, message_id
    )


@router.delete("/{message_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_message(message_id: uuid.UUID, user: Employee, services: PbxDeps) -> Response:
    """Delete one of my messages."""
    await services.pbx.voicemail.mailbox.delete(user.tenant_id, user.subject_id, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
