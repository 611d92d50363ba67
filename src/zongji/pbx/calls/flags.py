"""Waiting for one of several events without a task per event.

Call control waits on events in many places at once: a conversation on each participant hanging
up, on the PBX ending it and on its membership changing; a fork on the caller giving up beside
the devices' answers. `asyncio.Event` can only be waited on by a coroutine, so each such wait
used to be a task (`ensure_future(event.wait())`) made, run, cancelled and unwound for every
call, only to learn that an event was set.

A `Flag` is an `asyncio.Event` that also hands out plain futures (`future()`), resolved when it
is set: `watch(event)` gives such a future for a `Flag` and falls back to a task for any other
event (a test's fake participant), so waiters take any `asyncio.Event` and pay a task only for
events that are not flags.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Flag(asyncio.Event):
    """An `asyncio.Event` whose setting also resolves the futures `future()` handed out."""

    def __init__(self) -> None:
        super().__init__()
        #: made on the first `future()`: most flags of a call are never waited on this way
        self._futures: list[asyncio.Future[None]] | None = None

    def set(self) -> None:
        if self.is_set():
            return
        super().set()
        futures, self._futures = self._futures, None
        for future in futures or ():
            if not future.done():
                future.set_result(None)

    def future(self) -> asyncio.Future[None]:
        """A future done when the flag is set (at once if it is); cancel it to stop waiting."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.is_set():
            future.set_result(None)
            return future
        futures = self._futures
        if futures is None:
            futures = self._futures = []
        elif len(futures) >= 8:  # drop the futures of waits given up (cancelled)
            futures = self._futures = [f for f in futures if not f.done()]
        futures.append(future)
        return future


def watch(event: asyncio.Event) -> asyncio.Future[Any]:
    """A future done when `event` is set: a `Flag`'s own future, else a task waiting on it.
    Cancelling it stops the wait either way."""
    if isinstance(event, Flag):
        return event.future()
    return asyncio.ensure_future(event.wait())
