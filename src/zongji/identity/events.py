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
