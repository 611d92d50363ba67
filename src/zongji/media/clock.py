"""The engine's one clock: a 20 ms tick on absolute deadlines that measures its own lateness.

Everything that produces or consumes audio at a steady rate — players, recorders, conference
mixers, RTCP timers — runs on this tick, in one pass, so the event loop wakes 50 times a second
however many calls are up, and each pass can batch work across streams.

Deadlines are `start + n × period` on the monotonic clock, never "now + period", so timing errors
do not accumulate: a late tick is followed by a shorter wait, and the packet stream keeps its
average rate exactly. When the loop falls more than one period behind (a stall), the missed
ticks are run back to back up to `max_catch_up`, and beyond that they are skipped and counted —
catching up further would only send a burst that the far end's jitter buffer discards anyway.

Lateness is measured with `time.monotonic()` rather than `loop.time()`, which uvloop keeps at
millisecond resolution. libuv's millisecond timers may also wake a tick a fraction of a
millisecond early; that is harmless (the deadline, not the wake-up, defines the tick) and is
recorded as zero lateness.

The time source is injectable (`now=`) so that what the clock does with a given lateness (catch
up, skip, report) can be tested exactly: the loop still schedules the ticks, but "how late is this
tick" is read from the source the test controls, not from a busy machine's scheduler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

TICK_SECONDS = 0.020

TickListener = Callable[[int], None]
#: A monotonic time source in seconds (`time.monotonic` unless a test injects its own).
TimeSource = Callable[[], float]


@dataclass(frozen=True, slots=True)
class ClockStats:
    """Lateness of tick starts over the recent window, in milliseconds."""

    ticks: int
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    #: Ticks run back to back after a stall, and ticks dropped because the stall was too long.
    caught_up: int
    skipped: int
    #: Wall time spent inside tick listeners, p99, in milliseconds: the engine's work per tick.
    work_p99_ms: float


class Clock(Protocol):
    """What the engine needs of a clock; `ManualClock` stands in for it in tests."""

    @property
    def tick(self) -> int: ...

    def add_listener(self, listener: TickListener) -> None: ...

    def remove_listener(self, listener: TickListener) -> None: ...


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[TickListener] = []

    def add_listener(self, listener: TickListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: TickListener) -> None:
        self._listeners.remove(listener)

    def _run(self, tick: int) -> None:
        for listener in tuple(self._listeners):  # a listener may remove itself
            listener(tick)


class MediaClock(_Listeners):
    """A periodic tick on the running asyncio loop."""

    def __init__(
        self,
        period: float = TICK_SECONDS,
        *,
        window: int = 3000,
        max_catch_up: int = 3,
        now: TimeSource = time.monotonic,
    ) -> None:
        super().__init__()
        self.period = period
        self.max_catch_up = max_catch_up
        self._now = now
        self._tick = 0
        self._start = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._late = np.zeros(window, dtype=np.float64)
        self._work = np.zeros(window, dtype=np.float64)
        self._samples = 0
        self._caught_up = 0
        self._skipped = 0

    @property
    def tick(self) -> int:
        return self._tick

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self) -> None:
        """Start ticking on the running loop; the first tick is one period from now."""
        if self._handle is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._start = self._now()
        self._schedule(self._start + self.period)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def deadline(self, tick: int) -> float:
        """Monotonic time at which `tick` is due."""
        return self._start + tick * self.period

    def reset_stats(self) -> None:
        self._samples = 0
        self._caught_up = self._skipped = 0

    def stats(self) -> ClockStats:
        n = min(self._samples, len(self._late))
        late = self._late[:n] * 1000.0 if n else np.zeros(1)
        work = self._work[:n] * 1000.0 if n else np.zeros(1)
        return ClockStats(
            ticks=self._tick,
            late_p50_ms=float(np.percentile(late, 50)),
            late_p99_ms=float(np.percentile(late, 99)),
            late_max_ms=float(late.max()),
            caught_up=self._caught_up,
            skipped=self._skipped,
            work_p99_ms=float(np.percentile(work, 99)),
        )

    def _schedule(self, deadline: float) -> None:
        assert self._loop is not None
        self._handle = self._loop.call_later(max(0.0, deadline - self._now()), self._fire)

    def _fire(self) -> None:
        woke = self._now()
        due = self._tick + 1
        lateness = max(0.0, woke - self.deadline(due))
        behind = int(lateness // self.period)  # whole ticks missed besides this one
        if behind > self.max_catch_up:
            self._skipped += behind - self.max_catch_up
            self._tick += behind - self.max_catch_up
            behind = self.max_catch_up
        self._caught_up += behind
        for _ in range(behind + 1):
            self._tick += 1
            self._run(self._tick)
        slot = self._samples % len(self._late)
        self._late[slot] = lateness
        self._work[slot] = self._now() - woke
        self._samples += 1
        if self._handle is not None:
            self._schedule(self.deadline(self._tick + 1))


class ManualClock(_Listeners):
    """A clock that ticks only when told: deterministic tests of players, mixers and recorders."""

    def __init__(self) -> None:
        super().__init__()
        self._tick = 0

    @property
    def tick(self) -> int:
        return self._tick

    def advance(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            self._tick += 1
            self._run(self._tick)
