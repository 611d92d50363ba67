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


class LoopScheduler:
    """The running event loop as a `Scheduler`."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    def time(self) -> float:
        return self._loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self._loop.call_later(delay, callback)


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
