"""The Redis bus against the real Redis on 127.0.0.1:6379 (`.ci/run` starts it): two buses are
two nodes. An event published on one is heard on the other exactly as it was published, by the
handlers of its class only; the publishing node hears it once, at once; what is not an event is
skipped without stopping the listener; a Redis that cannot be reached costs only the remote copy.

Each test uses its own channel, so tests (and other users of the same Redis) never hear each other.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from zongji.directory.events import DirectoryChanged, EnterpriseCancelled, EnterpriseSuspended
from zongji.pbx.events import VoicemailLeft
from zongji.platform.event_wire import to_wire
from zongji.platform.events import Event
from zongji.platform.redis_bus import RedisBus

URL = "redis://127.0.0.1:6379/0"
WAIT = 5.0
ACME = uuid.uuid4()


@pytest.fixture
def channel() -> str:
    return f"zongji-test:{uuid.uuid4().hex}"


@pytest.fixture
async def nodes(channel: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    a = RedisBus(URL, channel=channel, node="node-a")
    b = RedisBus(URL, channel=channel, node="node-b")
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


class Heard(list[Event]):
    """A handler that keeps what it hears, and can be waited on."""

    def __init__(self) -> None:
        super().__init__()
        self._more = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.append(event)
        self._more.set()

    async def at_least(self, count: int) -> None:
        async def wait() -> None:
            while len(self) < count:
                self._more.clear()
                await self._more.wait()

        await asyncio.wait_for(wait(), WAIT)


def _left() -> VoicemailLeft:
    return VoicemailLeft(
        tenant_id=ACME,
        box_user_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
        caller_number="+8613900000001",
        caller_name="张三",
        caller_user_id=None,
        call_id="abc@host",
        seconds=3.25,
        received_at=datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC),
        file_key="voicemail/x.wav",
    )


async def test_another_node_hears_the_event_exactly_and_the_publisher_hears_it_once(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    a, b = nodes
    on_a, on_b = Heard(), Heard()
    a.subscribe(VoicemailLeft, on_a)
    b.subscribe(VoicemailLeft, on_b)
    left = _left()
    await a.publish([left])
    await a.drain()
    assert on_a == [left]  # delivered on the publishing node at once, not after a round trip
    await on_b.at_least(1)
    assert on_b == [left]
    assert repr(on_b[0]) == repr(left)  # UUIDs, datetime with its microseconds and offset
    await asyncio.sleep(0.2)  # a's own echo came back from Redis by now, and was skipped
    await a.drain()
    assert on_a == [left]
    assert (a.received, b.received) == (0, 1)


async def test_a_node_hears_only_the_classes_it_subscribed_to(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    a, b = nodes
    heard = Heard()
    b.subscribe((EnterpriseSuspended, DirectoryChanged), heard)
    suspended = EnterpriseSuspended(tenant_id=ACME, reason="欠费")
    changed = DirectoryChanged(tenant_id=ACME, cursor=3, action="user.create", users=(ACME,))
    await a.publish([EnterpriseCancelled(tenant_id=ACME, reason=None), suspended])
    await a.publish([_left(), changed])
    await heard.at_least(2)
    await b.drain()
    assert sorted(heard, key=[suspended, changed].index) == [suspended, changed]
    assert b.received == 4  # all four arrived; two had no handler here


async def test_what_is_not_an_event_is_skipped_and_the_listener_goes_on(
    nodes: tuple[RedisBus, RedisBus], channel: str
) -> None:
    _a, b = nodes
    heard = Heard()
    b.subscribe(EnterpriseSuspended, heard)
    later = EnterpriseSuspended(tenant_id=ACME, reason=None)
    raw = Redis.from_url(URL)
    try:
        for junk in [
            "not json",
            json.dumps({"node": "newer", "event": {"type": "enterprise.exploded", "fields": {}}}),
            json.dumps({"node": "other", "event": {"type": "enterprise.suspended"}}),
            json.dumps([1, 2]),
            json.dumps({"node": "other", "event": to_wire(later)}),
        ]:
            await raw.publish(channel, junk)
    finally:
        await raw.aclose()
    await heard.at_least(1)
    assert heard == [later]
    assert b.received == 1


async def test_a_node_whose_connection_was_cut_reconnects_and_hears_again(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    a, b = nodes
    heard = Heard()
    b.subscribe(EnterpriseSuspended, heard)
    admin = Redis.from_url(URL)
    try:
        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name") == f"zongji-bus:{b.node}"]
        assert ours, "b's connections are not named"
        for client_id in ours:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()
    event = EnterpriseSuspended(tenant_id=ACME, reason="after the cut")

    async def publish_until_heard() -> None:  # pub/sub loses what is sent during the gap
        while not heard:
            await a.publish([event])
            await asyncio.sleep(0.2)

    await asyncio.wait_for(publish_until_heard(), 10)
    assert heard[0] == event


async def test_without_redis_the_node_still_hears_its_own_events(channel: str) -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", channel=channel)  # nothing listens on port 1
    heard = Heard()
    bus.subscribe(EnterpriseSuspended, heard)
    event = EnterpriseSuspended(tenant_id=ACME, reason=None)
    await bus.publish([event])  # logs that the other nodes were not told; does not raise
    await bus.drain()
    assert heard == [event]
    with pytest.raises(RedisError, match=r"127\.0\.0\.1:1\b"):
        await bus.start()
    await bus.close()
