"""Write-behind: changes queued by key in memory, written by one worker, a batch per transaction.

What several services on a node's hot path need (call records, the bills of calls without a
quota, the registrations' journal): the caller only queues a change and gets an awaitable that
resolves once it is in the database, and one worker writes everything queued, for every
enterprise, in one transaction. Each owner keeps its own rows and statements (`write`); this
module is the queue, the pace, the connection and what happens when the database says no.

**Pace (group commit).** A transaction starts at most once per `pace` seconds. A change made
while the worker is idle and the last transaction began longer ago than that is written at once
(on the next turn of the loop, so the changes made in the same moment share it); any other change
waits for the next start, gathered with everything else queued meanwhile, also while a write is
in flight. So a lone change is not held for a timer, and under load a batch grows with the load
while the transactions a second stay at most `1 / pace`: what a transaction costs the node (on
SQLite about a millisecond of CPU, most of it the hand-offs to aiosqlite's thread) is shared by
more rows, never paid more often.

**One connection, no session.** The worker holds one connection (platform scope,
`Database.connection`) while it has work and gives it back when nothing is queued: no `Session`,
no pool check-out and reset, and on PostgreSQL no liveness ping per transaction. Owners write with
pre-built Core statements on it.

**Errors.** A transient error (`transient`: a busy SQLite lock, a dropped connection) is retried
with backoff for up to `retry_seconds` on a fresh connection, what is queued meanwhile waiting for
the next batch; past that the batch is given up (`lost`). Any other error writes the batch's
entries one transaction each, so one bad entry (a duplicate key) never loses the others; an entry
refused alone is given up (`lost`). Either way every waiter is resolved: callers never see a
database error (`lost` is where the owner logs what it gave up).

Durability: a node that dies loses at most what was queued in its last `pace` seconds and the
transaction in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.platform.db import PLATFORM, Database

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RETRY_SECONDS = 120.0
"""How long a batch keeps trying while the database is busy or unreachable."""
MAX_BATCH = 2000
FIRST_DELAY = 0.05
LONGEST_DELAY = 2.0


def transient(error: Exception) -> bool:
    """A database error worth retrying: a lock not granted in time (SQLite busy), a dropped
    connection, a deadlock or a serialisation failure. Anything else (a bug, bad data, a
    duplicate key) is not: retrying cannot change its outcome."""
    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError):
        text = str(error.orig).lower()
        return error.connection_invalidated or "deadlock" in text or "serializ" in text
    return False


Write = Callable[[AsyncConnection, dict[K, V]], Awaitable[None]]
"""Writes a batch on the connection, inside the transaction the worker opened."""
AfterCommit = Callable[[dict[K, V]], Awaitable[None]]
Lost = Callable[[dict[K, V], Exception], None]


class WriteBehind(Generic[K, V]):
    """The queue of one kind of change and the worker that writes it (one per service)."""

    def __init__(
        self,
        db: Database,
        write: Write[K, V],
        *,
        pace: float,
        transient: Callable[[Exception], bool] = transient,
        after_commit: AfterCommit[K, V] | None = None,
        lost: Lost[K, V] | None = None,
        retry_seconds: float = RETRY_SECONDS,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._db = db
        self._write = write
        self._pace = pace
        self._transient = transient
        self._after_commit = after_commit
        self._on_lost = lost
        self._retry_seconds = retry_seconds
        self._max_batch = max_batch
        self._pending: dict[K, V] = {}
        self._waiters: dict[K, list[asyncio.Future[None]]] = {}
        self._in_flight: list[asyncio.Future[None]] = []  # the batch being written
        self._worker: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self._started = -float("inf")  # loop time the last transaction began
        self._idle = asyncio.Event()
        self._idle.set()

    # -- what owners queue ------------------------------------------------------------------

    def get(self, key: K) -> V | None:
        """What is queued for `key` and not yet being written (the owner merges into it)."""
        return self._pending.get(key)

    def put(self, key: K, value: V) -> Awaitable[None]:
        """Queue `value` for `key` (replacing what was queued for it: merge with `get` first);
        resolves once it is written or given up. Raises RuntimeError outside an event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending[key] = value
        self._waiters.setdefault(key, []).append(future)
        self._idle.clear()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        return future

    async def written(self) -> None:
        """Wait until what is queued or being written now is written (not what comes later:
        under load the worker is never idle). A read after this sees every change made before."""
        waiters = [w for ws in self._waiters.values() for w in ws] + self._in_flight
        if waiters:
            await asyncio.wait(waiters)

    async def drain(self) -> None:
        """Wait until everything queued so far is written (shutdown, tests)."""
        await self._idle.wait()

    @property
    def pending(self) -> int:
        """Keys with something not yet written."""
        return len(self._pending)

    # -- the worker -------------------------------------------------------------------------

    async def _run(self) -> None:
        """Write until a whole `pace` passed with nothing queued, then give the connection back
        and end (the next change starts a new worker, which writes it at once)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                # the changes of this moment join; later ones wait for the pace
                await asyncio.sleep(max(0.0, self._started + self._pace - loop.time()))
                if not self._pending:
                    break
                self._started = loop.time()
                keys = list(self._pending)[: self._max_batch]
                batch = {key: self._pending.pop(key) for key in keys}
                self._in_flight = [w for key in keys for w in self._waiters.pop(key)]
                try:
                    await self._write_batch(batch)
                finally:
                    for waiter in self._in_flight:
                        if not waiter.done():
                            waiter.set_result(None)
                    self._in_flight = []
        finally:
            await self._release()
            if self._pending:  # queued while the connection was given back
                self._worker = loop.create_task(self._run())
            else:
                self._idle.set()

    async def _write_batch(self, batch: dict[K, V]) -> None:
        try:
            await self._until_written(batch)
        except Exception as error:
            if len(batch) == 1:
                self._lost(batch, error)
                return
            log.warning("batch of %d refused (%s); writing one by one", len(batch), error)
            for key, value in batch.items():
                try:
                    await self._until_written({key: value})
                except Exception as alone:
                    self._lost({key: value}, alone)

    async def _until_written(self, batch: dict[K, V]) -> None:
        """One transaction, retried while the error is transient; raises any other error.
        Past `retry_seconds` the batch is given up (`lost`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_seconds
        delay = FIRST_DELAY
        while True:
            try:
                await self._transaction(batch)
                break
            except Exception as error:
                await self._release()  # a fresh connection for the next try
                if not self._transient(error):
                    raise
                if loop.time() + delay > deadline:
                    self._lost(batch, error)
                    return
                log.warning("%d queued changes not written yet (%s); retrying", len(batch), error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_DELAY)
        if self._after_commit is not None:
            try:
                await self._after_commit(batch)
            except Exception:
                log.exception("after writing %d changes", len(batch))

    async def _transaction(self, batch: dict[K, V]) -> None:
        if self._connection is None:
            self._connection = await self._db.connection(PLATFORM, write=True)
        async with self._connection.begin():
            await self._write(self._connection, batch)

    def _lost(self, batch: dict[K, V], error: Exception) -> None:
        if self._on_lost is not None:
            self._on_lost(batch, error)
        else:
            log.error("%d queued changes not written: %s", len(batch), error)

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                log.debug("closing a write-behind connection failed", exc_info=True)
