"""Aggregates over mapped columns (the feed head, counts) stay inside the enterprise."""

from __future__ import annotations

from tests.conftest import World
from tests.directory.conftest import Console, enterprise


async def test_feed_head_and_counts_are_per_enterprise(acme: Console, world: World) -> None:
    other = await enterprise(world, "other")
    assert await world.services.directory.changes.head(other.id) == -1
    await acme.user("张三", "13800000001")
    assert await world.services.directory.changes.head(acme.tenant.id) > 0
    assert await world.services.directory.changes.head(other.id) == -1
    assert await world.services.directory.users.count(other.id) == 0
    assert await world.services.directory.users.count(acme.tenant.id) == 1
