"""Who is calling, for every context's routes: the bearer token checked, the principal and the
roles an endpoint accepts (`Depends(require(Role.OPERATOR))`, or the aliases below).

This is identity's published HTTP interface: it imports only identity's own principal and roles,
and reaches the service that checks tokens through `authenticator`, which the composition root
provides. The tenant always comes from the caller's token, never from anything the client can set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zongji.identity.models import Role
from zongji.identity.principal import Principal
from zongji.platform.errors import forbidden, unauthenticated
from zongji.platform.web import Provided


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal:
        """The principal of a valid access token; raises `unauthenticated` otherwise."""
        ...


authenticator: Provided[Authenticator] = Provided("authenticator")
_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    tokens: Annotated[Authenticator, Depends(authenticator)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthenticated()
    return await tokens.authenticate(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


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
