"""Who is acting: the subject of an operation, as the operation log records it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"  # an enterprise admin's console account
    USER = "user"  # an employee, through the client
    SYSTEM = "system"  # the node itself (jobs, demo set-up)
    CLI = "cli"  # someone at the node's command line


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    name: str
    id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    address: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind.value}:{self.name}"


SYSTEM = Actor(ActorKind.SYSTEM, "zongji")
