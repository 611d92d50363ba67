"""Domain events, published after the transaction that caused them has committed.

Contexts announce what happened ("enterprise.suspended", "directory.changed") and others react
(refresh an in-memory view, notify devices) without reaching into each other. The bus has one
interface and, for now, an in-process implementation; a Redis one joins it for several nodes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    tenant_id: uuid.UUID | None
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Handler = Callable[[Event], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, events: Sequence[Event]) -> None: ...

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Call `handler` for every event whose name matches `pattern` (fnmatch, e.g. `user.*`)."""
        ...


class InProcessBus:
    """Delivers to handlers in this process, each event in its own task so that a slow or failing
    handler never delays the request that published it."""

    def __init__(self) -> None:
        self._subscriptions: list[tuple[str, Handler]] = []
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, pattern: str, handler: Handler) -> None:
        self._subscriptions.append((pattern, handler))

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            for pattern, handler in self._subscriptions:
                if fnmatch.fnmatchcase(event.name, pattern):
                    task = asyncio.create_task(self._deliver(handler, event))
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)

    async def _deliver(self, handler: Handler, event: Event) -> None:
        try:
            await handler(event)
        except Exception:
            log.exception("event handler failed", extra={"event": event.name})

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (shutdown, tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
