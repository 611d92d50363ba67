"""A node that died mid-call: when it starts again, its SIP component closes the calls it left
live as interrupted, at its last heartbeat, before it takes new calls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from tests.conftest import clear_tables, make_settings
from tests.pbx.records.helpers import start
from zongji.pbx.calls.component import PbxComponent, PbxComponentDeps
from zongji.pbx.contracts import Party
from zongji.pbx.records.models import CallRecord
from zongji.platform.clock import FakeClock
from zongji.platform.db import PLATFORM
from zongji.platform.nodes import NodeState
from zongji.services import build_services

TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000aa")


async def test_a_restarted_node_closes_the_calls_it_left_live(
    database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    settings = make_settings(database_url, tmp_path, sip_port=0)
    # The first life: the node announces itself, takes two calls, beats … and is killed.
    first = build_services(settings, clock=clock)
    await clear_tables(first)
    await first.nodes.announce({}, NodeState.RUNNING)
    began = clock.now()
    await first.pbx.records.opened(start(TENANT, "talking", began))
    await first.pbx.records.answered("talking", began + timedelta(seconds=2), Party("8002"))
    await first.pbx.records.opened(start(TENANT, "ringing", began + timedelta(seconds=5)))
    clock.advance(30)
    await first.nodes.heartbeat()
    last_beat = clock.now()
    await first.close()  # no stop of any component: the process died
    clock.advance(120)

    # The second life: as `Node.start` does it, the registry announces first, then components.
    second = build_services(settings, clock=clock)
    await second.nodes.announce({}, NodeState.STARTING)
    component = PbxComponent(PbxComponentDeps(second.settings, second.clock, second.pbx))
    await component.start()
    try:
        async with second.db.session(PLATFORM) as session:
            rows = {
                r.call_id: r
                for r in (
                    await session.scalars(select(CallRecord).where(CallRecord.node == "test-node"))
                ).all()
            }
    finally:
        await component.stop()
        await second.close()
    talking, ringing = rows["talking"], rows["ringing"]
    assert (talking.status, talking.ended_at, talking.hangup_side) == (
        "interrupted",
        last_beat,
        "system",
    )
    assert talking.billable_seconds == 28
    assert (ringing.status, ringing.ended_at, ringing.billable_seconds) == (
        "interrupted",
        last_beat,
        0,
    )
