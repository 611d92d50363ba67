"""Fixtures for voicemail: an enterprise with two users (and another enterprise), and the
voicemail service of the node under test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import Tenant, World
from zongji.pbx.contracts import Party, VoicemailOffer
from zongji.pbx.events import VOICEMAIL_EVENTS, VoicemailEvent
from zongji.pbx.voicemail.service import VoicemailService


@dataclass
class Office:
    acme: Tenant
    alice: uuid.UUID  # 8001
    bob: uuid.UUID  # 8002
    other: Tenant
    carol: uuid.UUID  # 8001 at the other enterprise

    def offer(
        self, box: uuid.UUID, call_id: str = "call-1", tenant: Tenant | None = None
    ) -> VoicemailOffer:
        return VoicemailOffer(
            tenant_id=(tenant or self.acme).id,
            box_user_id=box,
            call_id=call_id,
            caller=Party("+8613900000001", None, "外线"),
        )


@pytest.fixture
async def office(world: World) -> Office:
    acme = await world.enterprise("acme")
    other = await world.enterprise("other")
    alice = await world.user(acme, "张三", "13800000001", extension="8001")
    bob = await world.user(acme, "李四", "13800000002", extension="8002")
    carol = await world.user(other, "王五", "13800000003", extension="8001")
    return Office(acme, alice, bob, other, carol)


@pytest.fixture
def voicemail(world: World) -> VoicemailService:
    return world.services.pbx.voicemail


@pytest.fixture
def published(world: World) -> list[VoicemailEvent]:
    """Every voicemail event published on the bus."""
    seen: list[VoicemailEvent] = []

    async def keep(event: VoicemailEvent) -> None:
        seen.append(event)

    world.services.bus.subscribe(VOICEMAIL_EVENTS, keep)
    return seen
