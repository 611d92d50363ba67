"""Time for the protocol state machines: T1/T2/T4 and a scheduler that tests can drive.

Transactions and dialogs never call asyncio directly for timers; they get a `Scheduler`. In
production that is the event loop (`LoopScheduler`); in tests it is a `ManualScheduler` whose
clock moves only when the test says so, which makes every retransmission and timeout of RFC 3261
§17 checkable exactly and instantly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """RFC 3261 §17.1.1.1 and Table 4 base values, in seconds."""

    t1: float = 0.5  # RTT estimate
    t2: float = 4.0  # maximum retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # maximum time a message stays in the network
    trying_delay: float = 0.2  # send 100 Trying if the TU has not answered an INVITE by then

    @property
    def timeout(self) -> float:
        """64*T1: Timers B, F, H, J (unreliable), L, M."""
        return 64 * self.t1


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """What the state machines need from a clock."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


COALESCE_FROM = 1.0
"""Timers this long or longer share their firing with the others due in the same slot."""
SLOT = 0.1
"""The slot of coalesced timers, in seconds: how late such a timer may fire."""


class _SlotHandle:
    """A coalesced timer: cancelling it takes it out of its slot (and frees what it held)."""

    __slots__ = ("_slot", "callback")

    def __init__(self, slot: _Slot, callback: Callable[[], None]) -> None:
        self._slot = slot
        self.callback = callback

    def cancel(self) -> None:
        self._slot.discard(self)
        self.callback = _nothing


class _Slot:
    """The timers due in one `SLOT` of loop time, fired by one loop timer."""

    __slots__ = ("_handle", "_key", "_owner", "timers")

    def __init__(self, owner: LoopScheduler, key: int) -> None:
        self._owner = owner
        self._key = key
        self.timers: dict[_SlotHandle, None] = {}  # in the order they were set
        self._handle = owner.loop.call_at((key + 1) * SLOT, self._fire)

    def discard(self, timer: _SlotHandle) -> None:
        if self.timers.pop(timer, False) is None and not self.timers:
            self._handle.cancel()
            self._owner.slots.pop(self._key, None)

    def _fire(self) -> None:
        self._owner.slots.pop(self._key, None)
        timers, self.timers = self.timers, {}
        for timer in timers:
            callback, timer.callback = timer.callback, _nothing
            callback()


class LoopScheduler:
    """The running event loop as a `Scheduler`.

    Most of a transaction's timers are long and end it quietly (RFC 3261 Timers B, D, F, H, I,
    J, K and RFC 6026's L and M: 5 or 32 s after the last message), so five or so go off per
    call, each on its own moment: at a moderate call rate most wake-ups of the loop (and of an
    idle vCPU, caches cold) were for one such timer. Timers of `COALESCE_FROM` seconds or more
    therefore go off together, per `SLOT` of loop time: never early, at most `SLOT` late, which
    none of those timers' meanings notices. Short timers (retransmissions, 100 Trying) keep
    their own loop timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.slots: dict[int, _Slot] = {}

    def time(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        if delay < COALESCE_FROM:
            return self.loop.call_later(delay, callback)
        key = math.ceil((self.loop.time() + delay) / SLOT) - 1  # fires at (key + 1) * SLOT
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = _Slot(self, key)
        timer = _SlotHandle(slot, callback)
        slot.timers[timer] = None
        return timer


def _nothing() -> None:
    pass


class _ManualHandle:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # like asyncio: a cancelled timer holds on to nothing


class ManualScheduler:
    """A clock that stands still until `advance()`: for tests of timer-driven behaviour."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, _ManualHandle]] = []
        self._sequence = itertools.count()

    def time(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        handle = _ManualHandle(self._now + max(0.0, delay), callback)
        heapq.heappush(self._queue, (handle.when, next(self._sequence), handle))
        return handle

    def advance(self, seconds: float) -> None:
        """Move the clock forward, firing every timer due on the way, in order."""
        target = self._now + seconds
        while self._queue and self._queue[0][0] <= target:
            when, _, handle = heapq.heappop(self._queue)
            if handle.cancelled:
                continue
            self._now = max(self._now, when)
            handle.callback()
        self._now = target

    @property
    def pending(self) -> int:
        """Timers scheduled and not cancelled (to check that nothing is left behind)."""
        return sum(1 for _, _, handle in self._queue if not handle.cancelled)
