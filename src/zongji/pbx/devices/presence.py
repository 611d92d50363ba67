"""A user's registered state, pushed out of the location service (which is synchronous and in
memory) to the directory and the bus.

On a user's first binding the directory marks the user registered (`registered_at`, DIR-1: the
user has started using the service), and either transition is announced as
`pbx.registration.changed` {user_id, registered} for clients and consoles that show who is
reachable. Both run as tasks, so the REGISTER is answered without waiting for the database.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from zongji.directory.users import DirectoryUsers
from zongji.platform.db import Database, TenantScope
from zongji.platform.events import Event, EventBus
from zongji.platform.uow import UnitOfWork

log = logging.getLogger(__name__)
EVENT = "pbx.registration.changed"


class PresencePublisher:
    def __init__(self, db: Database, bus: EventBus, users: DirectoryUsers) -> None:
        self._db = db
        self._bus = bus
        self._users = users
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, tenant_id: uuid.UUID, user_id: uuid.UUID, registered: bool) -> None:
        try:
            task = asyncio.get_running_loop().create_task(
                self._publish(tenant_id, user_id, registered)
            )
        except RuntimeError:  # no loop (a synchronous test): nothing to tell anyone
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, tenant_id: uuid.UUID, user_id: uuid.UUID, registered: bool) -> None:
        try:
            async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
                if registered:
                    await self._users.mark_registered(uow, user_id)
                uow.publish(
                    Event(EVENT, tenant_id, {"user_id": str(user_id), "registered": registered})
                )
        except Exception:
            log.exception("could not publish a registration change")

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
