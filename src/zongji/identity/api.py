"""/api/v1/auth: logins, token refresh, logout, deregistration, password change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from zongji.identity.schemas import (
    CodeLogin,
    CodeRequest,
    CodeSent,
    Me,
    PasswordChange,
    PasswordLogin,
    RefreshRequest,
    TokenPair,
)
from zongji.identity.service import IdentityService
from zongji.identity.web import AnyUser, ConsoleUser
from zongji.platform.web import AddressDep, Provided

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@dataclass(frozen=True)
class IdentityApiDeps:
    """What the auth routes depend on, provided by the composition root."""

    identity: IdentityService


identity_api: Provided[IdentityApiDeps] = Provided("identity")
IdentityDeps = Annotated[IdentityApiDeps, Depends(identity_api)]


@router.post("/login", response_model=TokenPair)
async def password_login(
    body: PasswordLogin, services: IdentityDeps, address: AddressDep
) -> TokenPair:
    """Console login (operators, enterprise admins) with account and password."""
    return await services.identity.password_login(
        body.account, body.password, body.device, address=address
    )


@router.post("/code", response_model=CodeSent, status_code=status.HTTP_202_ACCEPTED)
async def request_code(body: CodeRequest, services: IdentityDeps, address: AddressDep) -> CodeSent:
    """Send a one-time login code to a registered mobile, by SMS (CL-3) or voice call (CL-4)."""
    return await services.identity.request_code(body.mobile, body.channel, address)


@router.post("/code-login", response_model=TokenPair)
async def code_login(body: CodeLogin, services: IdentityDeps, address: AddressDep) -> TokenPair:
    """Employee login with mobile and one-time code."""
    return await services.identity.code_login(
        body.mobile, body.code, body.device, enterprise=body.enterprise, address=address
    )


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, services: IdentityDeps, address: AddressDep) -> TokenPair:
    """Rotate the refresh token for a new access token. Each refresh token works once: a used
    one coming back ends the session."""
    return await services.identity.refresh(body.refresh_token, body.device_id, address=address)


@router.get("/me", response_model=Me)
async def me(principal: AnyUser) -> Me:
    """Who the access token belongs to: kind, enterprise, name, roles, device and session."""
    return Me(
        subject_kind=principal.kind,
        subject_id=principal.subject_id,
        tenant_id=principal.tenant_id,
        name=principal.name,
        roles=sorted(principal.roles),
        device_id=principal.device_id,
        session_id=principal.session_id,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: AnyUser, services: IdentityDeps, address: AddressDep) -> Response:
    """End this session (other devices stay logged in)."""
    await services.identity.logout(principal, address=address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/deregister", status_code=status.HTTP_204_NO_CONTENT)
async def deregister(principal: AnyUser, services: IdentityDeps, address: AddressDep) -> Response:
    """注销 this device: all its sessions end and the next login needs a new code."""
    await services.identity.deregister(principal, address=address)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, principal: ConsoleUser, services: IdentityDeps, address: AddressDep
) -> Response:
    """ADM-29: change the console password; the account's other sessions end."""
    await services.identity.change_password(
        principal, body.old_password, body.new_password, address=address
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
