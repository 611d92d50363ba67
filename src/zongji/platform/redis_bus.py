"""`EventBus` across nodes: each event is delivered here at once, as `InProcessBus` does, and sent
in its wire form over Redis pub/sub to every other node, which delivers it to its own handlers.

Delivering locally first keeps a node's own behaviour exactly that of the in-process bus (a
request's own follow-ups do not wait on a Redis round trip, `drain()` means the same), and each
message carries the node it came from so that node skips its own echo.

Pub/sub is at most once: a node that is disconnected misses what was published meanwhile. That
is why nothing's correctness rests on hearing an event (the directory search reads the feed head,
the view reloads on a miss, trunk runtimes reload on start); events make other nodes catch up
sooner. A publish that cannot reach Redis is logged, never raised: the change it announces has
committed, and the request that made it must not fail for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from zongji.platform.event_wire import UnknownEventType, WireError, from_wire, to_wire
from zongji.platform.events import Event, Handler, InProcessBus

log = logging.getLogger(__name__)

CHANNEL = "zongji:events"
RECONNECT_SECONDS = 1.0


class RedisBus:
    """Publish after commit to this node and, through `channel`, to every node; `start()` before
    other nodes' events can arrive, `close()` at shutdown."""

    def __init__(self, url: str, *, channel: str = CHANNEL, node: str | None = None) -> None:
        self.channel = channel
        self.node = node or uuid.uuid4().hex  # unique per process: a restart is a new sender
        self._redis: Redis = Redis.from_url(url, client_name=f"zongji-bus:{self.node}")
        self._local = InProcessBus()
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self.received = 0  # events delivered from other nodes (tests, metrics)

    # -- EventBus -----------------------------------------------------------------------------

    def subscribe(
        self, kinds: type[Event] | tuple[type[Event], ...], handler: Handler[Any]
    ) -> None:
        self._local.subscribe(kinds, handler)

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self._local.deliver(event)
        for event in events:
            message = json.dumps({"node": self.node, "event": to_wire(event)}, ensure_ascii=False)
            try:
                await self._redis.publish(self.channel, message)
            except (RedisError, OSError):
                log.exception("could not send %s to the other nodes", type(event).type_name)

    async def drain(self) -> None:
        await self._local.drain()

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, and return once Redis has confirmed it: from then on, every event another
        node publishes reaches this node's handlers."""
        if self._listener is not None:
            return
        self._pubsub = await self._subscribed()
        self._listener = asyncio.create_task(self._listen(self._pubsub), name="redis-bus")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._local.drain()
        await self._redis.aclose()

    # -- receiving ----------------------------------------------------------------------------

    async def _subscribed(self) -> PubSub:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.channel)
        while True:  # the confirmation: SUBSCRIBE has taken effect on the server
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise TimeoutError(f"Redis did not confirm the subscription to {self.channel}")
            if message["type"] == "subscribe":
                return pubsub

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._receive(message["data"])
                return
            except (RedisError, OSError):
                log.warning("event bus lost Redis; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_SECONDS)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                while True:
                    try:
                        pubsub = self._pubsub = await self._subscribed()
                        break
                    except (RedisError, OSError, TimeoutError):
                        await asyncio.sleep(RECONNECT_SECONDS)

    def _receive(self, data: bytes | str) -> None:
        try:
            message = json.loads(data)
            if not isinstance(message, dict) or message.get("node") == self.node:
                return  # our own echo: delivered here when it was published
            event = from_wire(message.get("event"))
        except UnknownEventType as exc:
            log.warning("event bus: skipped an event this node does not know (%s)", exc)
            return
        except (WireError, ValueError):
            log.exception("event bus: skipped a message that is not an event")
            return
        self.received += 1
        self._local.deliver(event)
