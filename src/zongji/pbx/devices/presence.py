"""A user's registered state, pushed out of the location service (which is synchronous and in
memory) to the directory and the bus.

On a user's first binding the directory marks the user registered (`registered_at`, DIR-1: the
user has started using the service; it happens once per user, ever), and each transition is
announced as `RegistrationChanged` {user_id, registered} for clients and consoles that show
who is reachable.

Transitions are queued and written by one worker in batches, one transaction per enterprise per
batch: a thousand phones registering together after a network outage is a few transactions, not
a thousand competing for the database (SQLite allows one writer). The REGISTER never waits for
any of it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from zongji.directory.users import DirectoryUsers
from zongji.pbx.events import RegistrationChanged
from zongji.platform.db import Database, TenantScope
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork

log = logging.getLogger(__name__)
BATCH = 500


class PresencePublisher:
    def __init__(self, db: Database, bus: EventBus, users: DirectoryUsers) -> None:
        self._db = db
        self._bus = bus
        self._users = users
        self._pending: list[tuple[uuid.UUID, uuid.UUID, bool]] = []
        self._marked: set[uuid.UUID] = set()  # users the directory already has as registered
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def __call__(self, tenant_id: uuid.UUID, user_id: uuid.UUID, registered: bool) -> None:
        self._pending.append((tenant_id, user_id, registered))
        self._idle.clear()
        if self._worker is None or self._worker.done():
            try:
                self._worker = asyncio.get_running_loop().create_task(self._run())
            except RuntimeError:  # no loop (a synchronous caller): nothing to tell anyone
                self._pending.clear()
                self._idle.set()

    async def _run(self) -> None:
        """Write until nothing is pending, then end (the next change starts a new worker)."""
        await asyncio.sleep(0)  # let the changes of this moment gather into one batch
        while self._pending:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            try:
                await self._publish(batch)
            except Exception:
                log.exception("could not publish %d registration changes", len(batch))
        self._idle.set()

    async def _publish(self, batch: list[tuple[uuid.UUID, uuid.UUID, bool]]) -> None:
        by_tenant: dict[uuid.UUID, list[tuple[uuid.UUID, bool]]] = {}
        for tenant_id, user_id, registered in batch:
            by_tenant.setdefault(tenant_id, []).append((user_id, registered))
        for tenant_id, changes in by_tenant.items():
            async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
                for user_id, registered in changes:
                    if registered and user_id not in self._marked:
                        await self._users.mark_registered(uow, user_id)
                    uow.publish(
                        RegistrationChanged(
                            tenant_id=tenant_id, user_id=user_id, registered=registered
                        )
                    )
            self._marked.update(user_id for user_id, registered in changes if registered)

    async def drain(self) -> None:
        """Wait until every change queued so far is written (tests, shutdown)."""
        await self._idle.wait()
