"""The `rig` fixture: the call engine running on real sockets over the node's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import clear_tables, make_settings
from tests.pbx.calls.rig import CallRig
from zongji.pbx.devices.presence import PresencePublisher
from zongji.platform.clock import SystemClock
from zongji.services import build_services


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[CallRig]:
    settings = make_settings(
        database_url, tmp_path, ring_timeout=3.0, media_timeout=0, trunk_setup_timeout=1.0
    )
    services = build_services(settings, clock=SystemClock())
    await clear_tables(services)
    running = CallRig(services)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        # registrations publish presence in the background: let that finish before closing
        presence = services.pbx.location.on_presence
        if isinstance(presence, PresencePublisher):
            await presence.drain()
        await services.close()
