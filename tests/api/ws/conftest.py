"""A real node for the WebSocket tests: `Node` (the composition `zongji serve` runs, uvicorn with
the gateway's WebSocket protocol, on a real socket) on uvloop, and clients that speak the
protocol with the `websockets` library, as a browser would (subprotocols, close codes).

SIP is off (these tests are about HTTP and WebSockets); the database is the suite's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.conftest import World, build_services_with_phones, clear_tables, make_settings
from zongji import eventloop
from zongji.node import Node
from zongji.platform.clock import FakeClock
from zongji.platform.config import WebSocketSettings
from zongji.services import Services

WAIT = 10.0
REDIS = "redis://127.0.0.1:6379/0"


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"node-loop": eventloop.new_event_loop}


@dataclass
class LiveNode:
    node: Node
    services: Services
    http: httpx.AsyncClient  # to the node's real socket
    world: World

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.node.ports['http']}/api/v1/ws"


StartNode = Callable[..., Awaitable[LiveNode]]


@pytest.fixture
async def start_node(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StartNode]:
    """`await start_node(**ws_settings)`: a started node on the suite's database;
    `redis_channel=C` puts it on the Redis bus (127.0.0.1:6379, as tests/platform's) with the
    other nodes started with the same channel."""
    started: list[LiveNode] = []

    async def start(*, redis_channel: str | None = None, **ws: Any) -> LiveNode:
        bus = {"redis_url": REDIS, "redis_channel": redis_channel} if redis_channel else {}
        settings = make_settings(
            database_url,
            tmp_path / f"node-{len(started)}",
            sip_enabled=False,
            migrate_on_start=False,
            http_port=0,
            ws=WebSocketSettings(**ws),
            **bus,
        )
        services = build_services_with_phones(settings, clock)
        if not started:
            await clear_tables(services)
        node = Node(settings, services)
        await node.start()
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.ports['http']}", timeout=WAIT)
        live = LiveNode(node, services, http, World(services, http))
        started.append(live)
        return live

    yield start
    for live in reversed(started):
        await live.http.aclose()
        await live.node.stop()


class Client:
    """One device's WebSocket, read as the console would."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pings = 0

    async def message(self, within: float = WAIT) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), within))
        return data

    async def event(self, within: float = WAIT) -> dict[str, Any]:
        """The next event (a message whose type has a dot), answering pings on the way."""
        while True:
            message = await self.message(within)
            if message["type"] == "ping":
                self.pings += 1
                await self.ws.send(json.dumps({"type": "pong"}))
            elif "." in message["type"]:
                return message
            else:
                raise AssertionError(f"expected an event, got {message}")

    async def closed(self, within: float = WAIT) -> tuple[int, str]:
        """Read until the server closes; its close code and reason (1006 if it dropped us)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), within)
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return 1006, ""
            return closed.rcvd.code, closed.rcvd.reason

    async def close(self) -> None:
        await self.ws.close()


async def open_socket(
    node: LiveNode,
    token: str | None,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    **options: Any,
) -> Client:
    protocols = [Subprotocol("zongji.v1")]
    if token is not None:
        protocols.append(Subprotocol(f"bearer.{token}"))
    ws = await connect(
        node.ws_url + query,
        subprotocols=protocols,
        additional_headers=headers,
        open_timeout=WAIT,
        ping_interval=None,  # the protocol's heartbeat is the gateway's own ping/pong
        **options,
    )
    assert ws.subprotocol == "zongji.v1"
    return Client(ws)


async def until(condition: Callable[[], bool], within: float = WAIT) -> None:
    """Wait for `condition` (state the test cannot await directly), checking as the loop runs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
