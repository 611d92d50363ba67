"""The authenticated caller of a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from zongji.identity.models import Role, SubjectKind
from zongji.platform.actor import Actor, ActorKind
from zongji.platform.db import PLATFORM, PLATFORM_TENANT, Scope, TenantScope


@dataclass(frozen=True)
class Principal:
    kind: SubjectKind
    subject_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    roles: frozenset[Role]
    session_id: uuid.UUID
    device_id: uuid.UUID

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles

    @property
    def scope(self) -> Scope:
        """Operators work on the platform; everyone else only ever inside their enterprise."""
        if self.tenant_id == PLATFORM_TENANT:
            return PLATFORM
        return TenantScope(self.tenant_id)

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    def actor(self, address: str | None = None) -> Actor:
        return Actor(
            actor_kind(self.kind, self.roles), self.name, self.subject_id, self.tenant_id, address
        )


def actor_kind(kind: SubjectKind, roles: frozenset[Role]) -> ActorKind:
    if Role.OPERATOR in roles:
        return ActorKind.OPERATOR
    return ActorKind.ADMIN if kind is SubjectKind.CONSOLE else ActorKind.USER
