"""One unit of work: one transaction, and the events it raised, published only once it committed.

Services open one per operation. Either everything it wrote commits (rows, operation-log entry,
idempotency record) or nothing does; subscribers never hear of a change that was rolled back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession

from zongji.platform.db import Database, Scope
from zongji.platform.events import Event, EventBus


class UnitOfWork:
    def __init__(self, db: Database, bus: EventBus, scope: Scope) -> None:
        self.scope = scope
        self.session: AsyncSession = db.session(scope, write=True)
        self._bus = bus
        self._events: list[Event] = []

    def publish(self, event: Event) -> None:
        """Queue an event for after the commit."""
        self._events.append(event)

    async def __aenter__(self) -> UnitOfWork:
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()
        if exc_type is None and self._events:
            await self._bus.publish(self._events)
