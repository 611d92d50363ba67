"""What endpoints depend on: the node's services, the caller, and their roles.

Roles are checked on every endpoint by declaring them: `Depends(require(Role.OPERATOR))`. The
tenant always comes from the caller's token, never from anything the client can set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zongji.identity.models import Role
from zongji.identity.principal import Principal
from zongji.platform.errors import forbidden, unauthenticated
from zongji.services import Services

_bearer = HTTPBearer(auto_error=False)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


AddressDep = Annotated[str | None, Depends(client_address)]


async def current_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthenticated()
    return await services.identity.authenticate(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]

ALL_ROLES = frozenset(Role)
CONSOLE_ROLES = frozenset({Role.OPERATOR, Role.ENTERPRISE_ADMIN})


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(allowed):
            raise forbidden()
        return principal

    return check


Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
EnterpriseAdmin = Annotated[Principal, Depends(require(Role.ENTERPRISE_ADMIN))]
ConsoleUser = Annotated[Principal, Depends(require(Role.OPERATOR, Role.ENTERPRISE_ADMIN))]
AnyUser = Annotated[Principal, Depends(require(*Role))]
DirectoryManager = Annotated[
    Principal, Depends(require(Role.ENTERPRISE_ADMIN, Role.CONTACT_MANAGER))
]
"""Edits the directory: the enterprise's console admins and its contact managers (DIR-5)."""
Member = Annotated[
    Principal, Depends(require(Role.ENTERPRISE_ADMIN, Role.CONTACT_MANAGER, Role.EMPLOYEE))
]
"""Anyone of the enterprise: reads the directory."""
Employee = Annotated[Principal, Depends(require(Role.EMPLOYEE))]
"""A user of the client (has a directory entry, personal contacts, favourites)."""
