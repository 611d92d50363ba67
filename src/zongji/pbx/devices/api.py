"""Device credentials, registrations and the SIP guard over HTTP (SEC-3, SEC-4).

- employees: `/api/v1/me/devices` (list, issue, revoke their own) and `/api/v1/me/registrations`;
- enterprise admins (console): the same for any user of their enterprise under
  `/api/v1/directory/users/{user_id}/devices` and `/registrations`;
- operators: `/api/v1/platform/sip/blocks` (sources blocked for failed authentication) and lifting
  a block.

The password of a new device appears only in the response to its POST. The tenant always comes
from the token; another enterprise's user or device is simply not found.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from zongji.identity.web import Employee, EnterpriseAdmin, Operator
from zongji.pbx.devices.credentials import CredentialRecord
from zongji.pbx.devices.schemas import (
    BlockList,
    BlockOut,
    DeviceIn,
    DeviceIssued,
    DeviceList,
    DeviceOut,
    RegistrarInfo,
    RegistrationList,
    RegistrationOut,
)
from zongji.pbx.web import PbxApiDeps, PbxDeps
from zongji.platform.actor import Actor
from zongji.platform.errors import Problem, not_found
from zongji.platform.web import AddressDep

router = APIRouter(tags=["pbx: devices"])


# -- employees: their own devices ---------------------------------------------------------------


@router.get("/api/v1/me/devices", response_model=DeviceList)
async def my_devices(user: Employee, services: PbxDeps) -> DeviceList:
    """My SIP device credentials (usernames; passwords are shown only when issued)."""
    return await _devices(services, user.tenant_id, user.subject_id)


@router.post("/api/v1/me/devices", response_model=DeviceIssued, status_code=201)
async def issue_my_device(
    body: DeviceIn, user: Employee, services: PbxDeps, address: AddressDep
) -> DeviceIssued:
    """A SIP login for one more of my devices. The password is in this response only."""
    return await _issue(services, user.actor(address), user.tenant_id, user.subject_id, body)


@router.delete("/api/v1/me/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_device(
    device_id: uuid.UUID, user: Employee, services: PbxDeps, address: AddressDep
) -> Response:
    """Revoke one of my SIP device credentials; its registrations end at once."""
    await services.pbx.credentials.revoke(
        user.actor(address), user.tenant_id, device_id, user_id=user.subject_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/me/registrations", response_model=RegistrationList)
async def my_registrations(user: Employee, services: PbxDeps) -> RegistrationList:
    """Where my devices are registered now (contacts, transport, expiry)."""
    return await _registrations(services, user.tenant_id, user.subject_id)


# -- enterprise admins: any user's devices ----------------------------------------------------


@router.get("/api/v1/directory/users/{user_id}/devices", response_model=DeviceList)
async def user_devices(user_id: uuid.UUID, admin: EnterpriseAdmin, services: PbxDeps) -> DeviceList:
    """A user's SIP device credentials, for the enterprise's admin."""
    await _user_exists(services, admin.tenant_id, user_id)
    return await _devices(services, admin.tenant_id, user_id)


@router.post(
    "/api/v1/directory/users/{user_id}/devices", response_model=DeviceIssued, status_code=201
)
async def issue_user_device(
    user_id: uuid.UUID,
    body: DeviceIn,
    admin: EnterpriseAdmin,
    services: PbxDeps,
    address: AddressDep,
) -> DeviceIssued:
    """Issue a device credential for a user (e.g. a desk phone the admin sets up)."""
    return await _issue(services, admin.actor(address), admin.tenant_id, user_id, body)


@router.delete(
    "/api/v1/directory/users/{user_id}/devices/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def revoke_user_device(
    user_id: uuid.UUID,
    device_id: uuid.UUID,
    admin: EnterpriseAdmin,
    services: PbxDeps,
    address: AddressDep,
) -> Response:
    """Revoke a user's SIP device credential; its registrations end at once."""
    await services.pbx.credentials.revoke(
        admin.actor(address), admin.tenant_id, device_id, user_id=user_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/directory/users/{user_id}/registrations", response_model=RegistrationList)
async def user_registrations(
    user_id: uuid.UUID, admin: EnterpriseAdmin, services: PbxDeps
) -> RegistrationList:
    """Where a user's devices are registered now, for the enterprise's admin."""
    await _user_exists(services, admin.tenant_id, user_id)
    return await _registrations(services, admin.tenant_id, user_id)


# -- operators: the guard ------------------------------------------------------------------------


@router.get("/api/v1/platform/sip/blocks", response_model=BlockList)
async def sip_blocks(operator: Operator, services: PbxDeps) -> BlockList:
    """Sources blocked for repeated SIP authentication failures, most recent first."""
    return BlockList(
        items=[
            BlockOut(
                host=b.host, since=b.since, until=b.until, failures=b.failures, username=b.username
            )
            for b in services.pbx.guard.blocks()
        ]
    )


@router.delete("/api/v1/platform/sip/blocks/{host}", status_code=status.HTTP_204_NO_CONTENT)
async def lift_sip_block(
    host: str, operator: Operator, services: PbxDeps, username: str | None = None
) -> Response:
    """Lift the blocks of an address (behind a trusted proxy: all its usernames' blocks, or only
    `username`'s)."""
    if not services.pbx.guard.unblock(host, username):
        raise Problem(404, "not_blocked", "This address is not blocked.", "该地址未被封禁。")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- helpers -----------------------------------------------------------------------------------


async def _user_exists(services: PbxApiDeps, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    if await services.pbx.view.subscriber_now(tenant_id, user_id) is None:
        raise not_found("User", "用户")


async def _devices(services: PbxApiDeps, tenant_id: uuid.UUID, user_id: uuid.UUID) -> DeviceList:
    tenant = await services.pbx.view.tenant(tenant_id)
    domain = tenant.sip_domain if tenant is not None else ""
    records = await services.pbx.credentials.list(tenant_id, user_id)
    registered = await _registered(services, tenant_id, {r.user_id for r in records})
    return DeviceList(items=[_out(r, domain, r.id in registered) for r in records])


async def _issue(
    services: PbxApiDeps, actor: Actor, tenant_id: uuid.UUID, user_id: uuid.UUID, body: DeviceIn
) -> DeviceIssued:
    issued = await services.pbx.credentials.issue(
        actor, tenant_id, user_id, kind=body.kind, label=body.label
    )
    settings = services.settings
    # registered nowhere yet: the device has only now been given its login
    out = _out(issued.credential, issued.credential.realm, registered=False)
    return DeviceIssued(
        **out.model_dump(),
        password=issued.password,
        registrar=RegistrarInfo(
            host=settings.sip_public_host or settings.host,
            port=settings.sip_port,
            transports=["udp", "tcp"],
        ),
    )


async def _registered(
    services: PbxApiDeps, tenant_id: uuid.UUID, user_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """The credentials of these users with a live registration (on any node)."""
    location = services.pbx.location
    return {
        binding.device.credential_id
        for user_id in user_ids
        for binding in await location.bindings(tenant_id, user_id)
    }


def _out(record: CredentialRecord, domain: str, registered: bool) -> DeviceOut:
    return DeviceOut(
        id=record.id,
        user_id=record.user_id,
        kind=record.kind,
        label=record.label,
        username=record.username,
        sip_domain=record.realm,
        created_at=record.created_at,
        last_registered_at=record.last_registered_at,
        registered=registered,
        needs_reissue=bool(domain) and record.realm.lower() != domain.lower(),
    )


async def _registrations(
    services: PbxApiDeps, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> RegistrationList:
    bindings = await services.pbx.location.bindings(tenant_id, user_id)
    now = services.clock.now()
    return RegistrationList(
        items=[
            RegistrationOut(
                device_id=b.device.credential_id,
                username=b.device.username,
                contact=b.uri,
                transport=b.transport,
                source=b.source,
                expires_in=max(0, int((b.expires_at - now).total_seconds() + 0.5)),
                nat=b.nat,
                user_agent=b.user_agent,
            )
            for b in bindings
        ]
    )
