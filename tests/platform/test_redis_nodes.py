"""`redis_url` puts the nodes on one event bus, against the real Redis on 127.0.0.1:6379
(`.ci/run` starts it): two `Services` built from settings with the same URL (and channel) are
two nodes over one database, and a directory change committed on one reaches a subscriber on the
other. A node started with the setting subscribes on start and leaves nothing behind on stop (no
connection on the Redis server, no task); without it the bus stays in the process.

Each test uses its own channel, so tests (and other users of the same Redis) never hear each other.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.conftest import clear_tables, make_settings
from zongji.cli import _settings as cli_settings
from zongji.cli import build_parser
from zongji.directory.events import DirectoryChanged
from zongji.directory.schemas import EnterpriseCreate
from zongji.directory.user_schemas import UserCreate
from zongji.node import Node
from zongji.platform.actor import SYSTEM
from zongji.platform.config import Settings
from zongji.platform.events import InProcessBus
from zongji.platform.redis_bus import RedisBus
from zongji.services import Services, build_services

URL = "redis://127.0.0.1:6379/0"
WAIT = 5.0


@pytest.fixture
def channel() -> str:
    return f"zongji-test:{uuid.uuid4().hex}"


async def _bus_clients(bus: RedisBus) -> list[dict[str, Any]]:
    """The connections the Redis server has open for `bus` (named after its node)."""
    async with Redis.from_url(URL) as redis:
        clients = await redis.client_list()
    return [c for c in clients if c.get("name") == f"zongji-bus:{bus.node}"]


def _redis_bus(services: Services) -> RedisBus:
    assert isinstance(services.bus, RedisBus)
    return services.bus


def _bus_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "redis-bus" and not t.done()]


@pytest.fixture
async def two_nodes(
    database_url: str, tmp_path: Path, channel: str
) -> AsyncIterator[tuple[Services, Services]]:
    nodes = [
        build_services(
            make_settings(database_url, tmp_path / name, redis_url=URL, redis_channel=channel)
        )
        for name in ("node-a", "node-b")
    ]
    await clear_tables(nodes[0])
    for node in nodes:
        await node.start()
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            await node.close()


async def test_a_directory_change_on_one_node_reaches_a_subscriber_on_the_other(
    two_nodes: tuple[Services, Services],
) -> None:
    a, b = two_nodes
    heard_on_b: asyncio.Queue[DirectoryChanged] = asyncio.Queue()
    heard_on_a: list[DirectoryChanged] = []

    async def on_b(event: DirectoryChanged) -> None:
        await heard_on_b.put(event)

    async def on_a(event: DirectoryChanged) -> None:
        heard_on_a.append(event)

    b.bus.subscribe(DirectoryChanged, on_b)
    a.bus.subscribe(DirectoryChanged, on_a)

    acme = await a.directory.enterprises.create(
        SYSTEM,
        EnterpriseCreate(code="acme", name="acme 公司", area_code="025", city="南京"),
    )
    user = await a.directory.users.create(
        SYSTEM, acme.id, UserCreate(name="张三", extension="8001", mobile="13900000001")
    )

    event = await asyncio.wait_for(heard_on_b.get(), WAIT)
    assert event.action == "user.create"
    assert event.users == (user.id,)
    assert event.cursor > 0
    await a.bus.drain()
    assert heard_on_a == [event]  # the publishing node hears it once, locally
    assert _redis_bus(b).received >= 1


async def test_services_close_leaves_no_connection_or_task(
    database_url: str, tmp_path: Path, channel: str
) -> None:
    services = build_services(
        make_settings(database_url, tmp_path, redis_url=URL, redis_channel=channel)
    )
    bus = _redis_bus(services)
    await services.start()
    assert await _bus_clients(bus)  # subscribed
    assert _bus_tasks()
    await services.close()
    assert await _bus_clients(bus) == []
    assert _bus_tasks() == []


async def test_a_node_starts_the_bus_and_stops_it(
    database_url: str, tmp_path: Path, channel: str
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        redis_url=URL,
        redis_channel=channel,
        sip_enabled=False,
        http_port=0,
    )
    node = Node(settings)
    bus = _redis_bus(node.services)
    assert await _bus_clients(bus) == []  # building connects nothing
    await node.start()
    try:
        assert await _bus_clients(bus)
    finally:
        await node.stop()
    assert await _bus_clients(bus) == []
    assert _bus_tasks() == []


def test_the_bus_is_in_process_unless_redis_url_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings().redis_url == ""
    plain = build_services(make_settings("sqlite+aiosqlite:///:memory:", tmp_path))
    assert isinstance(plain.bus, InProcessBus)
    monkeypatch.setenv("ZONGJI_REDIS_URL", URL)
    monkeypatch.setenv("ZONGJI_REDIS_CHANNEL", "zongji-test:env")
    settings = Settings.load(database_url="sqlite+aiosqlite:///:memory:")
    assert (settings.redis_url, settings.redis_channel) == (URL, "zongji-test:env")
    args = build_parser().parse_args(["serve", "--redis-url", "redis://10.0.0.9:6379/1"])
    assert cli_settings(args).redis_url == "redis://10.0.0.9:6379/1"  # the flag wins
