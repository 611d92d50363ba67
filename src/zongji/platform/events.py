"""Domain events, published after the transaction that caused them has committed.

Contexts announce what happened (an enterprise was suspended, the directory changed) and others
react (refresh an in-memory view, notify devices) without reaching into each other. Each context
declares its events as frozen dataclasses in its own `events` module, registered under a stable
type name (`zongji.platform.event_wire`), so they can cross a Redis bus or a WebSocket as data.
Subscribers name the classes they handle, so "who handles X" is a search for the class name.

The bus has one interface, `EventBus`; everything below the composition root receives that, never
an implementation. `InProcessBus` delivers inside this process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar, overload

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event carries: whose it is (None: the platform's, e.g. a trunk) and when.

    Subclasses are `@dataclass(frozen=True, kw_only=True)` with typed fields (UUIDs, enums,
    datetimes, tuples), never a free-form dict: the class *is* the schema of its wire form."""

    type_name: ClassVar[str]  # set by `event_wire.registered`
    tenant_id: uuid.UUID | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


E = TypeVar("E", bound=Event)
E2 = TypeVar("E2", bound=Event)
E3 = TypeVar("E3", bound=Event)
E4 = TypeVar("E4", bound=Event)
Handler = Callable[[E], Awaitable[None]]


class EventBus(Protocol):
    """Publish after commit; subscribe by event class.

    A subscription names the classes it wants (exactly those: a subclass is its own event). The
    handler's parameter type follows from them, so mypy checks that a handler can take every
    class it is subscribed to; more than four classes need a handler that takes any `Event`."""

    async def publish(self, events: Sequence[Event]) -> None: ...

    @overload
    def subscribe(self, kinds: type[E], handler: Handler[E]) -> None: ...
    @overload
    def subscribe(self, kinds: tuple[type[E], type[E2]], handler: Handler[E | E2]) -> None: ...
    @overload
    def subscribe(
        self, kinds: tuple[type[E], type[E2], type[E3]], handler: Handler[E | E2 | E3]
    ) -> None: ...
    @overload
    def subscribe(
        self,
        kinds: tuple[type[E], type[E2], type[E3], type[E4]],
        handler: Handler[E | E2 | E3 | E4],
    ) -> None: ...
    @overload
    def subscribe(self, kinds: tuple[type[Event], ...], handler: Handler[Event]) -> None: ...

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (shutdown, tests)."""
        ...

    async def start(self) -> None:
        """Before the node serves: a bus between nodes subscribes (the in-process bus has
        nothing to start)."""
        ...

    async def close(self) -> None:
        """At shutdown, after everything that may still publish: a bus between nodes
        disconnects."""
        ...


def kinds_of(kinds: type[Event] | tuple[type[Event], ...]) -> tuple[type[Event], ...]:
    """A subscription's classes as a tuple; refuses what is not an event class (a typo such as
    passing an instance would otherwise subscribe to nothing, silently)."""
    found = kinds if isinstance(kinds, tuple) else (kinds,)
    for kind in found:
        if not (isinstance(kind, type) and issubclass(kind, Event)) or kind is Event:
            raise TypeError(f"subscribe to event classes, not {kind!r}")
    return found


class InProcessBus:
    """Delivers to handlers in this process, each delivery in its own task so that a slow or
    failing handler never delays the request that published it."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler[Any]]] = {}
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(
        self, kinds: type[Event] | tuple[type[Event], ...], handler: Handler[Any]
    ) -> None:
        for kind in kinds_of(kinds):
            self._handlers.setdefault(kind, []).append(handler)

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Start one task per handler of `event`'s class (also how a bus that received the
        event from elsewhere hands it to this process's handlers)."""
        for handler in self._handlers.get(type(event), ()):
            task = asyncio.create_task(self._run(handler, event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _run(self, handler: Handler[Any], event: Event) -> None:
        try:
            await handler(event)
        except Exception:
            log.exception("event handler failed", extra={"event": type(event).__name__})

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (shutdown, tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def start(self) -> None:
        """Nothing to connect in one process."""

    async def close(self) -> None:
        await self.drain()
