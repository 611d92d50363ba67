"""The `rig` fixture: the call engine running on real sockets over the node's services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pbx.calls.rig import CallRig, running_rig


@pytest.fixture
async def rig(database_url: str, tmp_path: Path) -> AsyncIterator[CallRig]:
    async with running_rig(database_url, tmp_path) as running:
        yield running
