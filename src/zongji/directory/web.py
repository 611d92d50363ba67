"""What the directory's routes depend on (`DirectoryApiDeps`), provided by the composition root.

The routes reach the directory's own services as the one group the root builds
(`services.py: DirectoryServices`) and, for the two operations that create or suspend console
access, identity through the `ConsoleAccounts` protocol declared here, so the directory does not
import identity's service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends

from zongji.directory.schemas import AdminAccountCreate
from zongji.directory.services import DirectoryServices
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.web import Provided


class ConsoleAccounts(Protocol):
    """Identity's side of two directory operations (implemented by `IdentityService`)."""

    async def add_enterprise_admin(
        self, actor: Actor, tenant_id: uuid.UUID, admin: AdminAccountCreate
    ) -> uuid.UUID: ...

    async def set_user_suspended(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        suspended: bool,
        *,
        reason: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class DirectoryApiDeps:
    clock: Clock
    directory: DirectoryServices
    identity: ConsoleAccounts


directory_api: Provided[DirectoryApiDeps] = Provided("directory")
DirectoryDeps = Annotated[DirectoryApiDeps, Depends(directory_api)]
