"""What identity announces, after the change has committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from zongji.platform.event_wire import registered
from zongji.platform.events import Event


@registered("device.deregistered")
@dataclass(frozen=True, kw_only=True)
class DeviceDeregistered(Event):
    """注销: a client device ended all its sessions; it needs a fresh login code to come back."""

    device_id: uuid.UUID


@registered("identity.sessions_ended")
@dataclass(frozen=True, kw_only=True)
class SessionsEnded(Event):
    """Sessions were revoked (logout, 注销, password change or reset, user suspended): what holds
    a connection open on one of them (the WebSocket gateway) closes it at once rather than at
    its next check. `tenant_id` is None when the revoking transaction was the platform's."""

    session_ids: tuple[uuid.UUID, ...]
    reason: str  # "logout", "deregistered", "password_changed", "password_reset", …
