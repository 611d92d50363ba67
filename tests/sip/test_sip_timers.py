"""The loop scheduler coalesces long timers: never early, fired together per slot, cancellable."""

from __future__ import annotations

import asyncio

from zongji.sip.timers import COALESCE_FROM, SLOT, LoopScheduler


async def test_long_timers_set_together_share_one_slot_and_never_fire_early() -> None:
    scheduler = LoopScheduler()
    loop = asyncio.get_running_loop()
    start = loop.time()
    fired: list[tuple[int, float]] = []
    for n in range(50):
        scheduler.call_later(COALESCE_FROM, lambda n=n: fired.append((n, loop.time())))
    assert len(scheduler.slots) == 1  # one loop timer for the fifty
    await asyncio.sleep(COALESCE_FROM + 2 * SLOT)
    assert [n for n, _ in fired] == list(range(50))  # each once, in the order they were set
    assert all(at >= start + COALESCE_FROM - 0.002 for _, at in fired)  # the loop clock: ms
    assert scheduler.slots == {}


async def test_a_cancelled_timer_never_fires_and_the_last_one_frees_its_slot() -> None:
    scheduler = LoopScheduler()
    fired: list[str] = []
    kept = scheduler.call_later(COALESCE_FROM, lambda: fired.append("kept"))
    dropped = scheduler.call_later(COALESCE_FROM, lambda: fired.append("dropped"))
    dropped.cancel()
    alone = scheduler.call_later(COALESCE_FROM + 5, lambda: fired.append("alone"))
    assert len(scheduler.slots) == 2
    alone.cancel()  # its slot had nothing else: the loop timer goes too
    assert len(scheduler.slots) == 1
    await asyncio.sleep(COALESCE_FROM + 2 * SLOT)
    assert fired == ["kept"]
    kept.cancel()  # cancelling a timer that went off is harmless
    assert scheduler.slots == {}


async def test_a_timer_cancelling_its_neighbour_in_the_same_slot_stops_it() -> None:
    scheduler = LoopScheduler()
    fired: list[str] = []
    second = None

    def first() -> None:
        fired.append("first")
        assert second is not None
        second.cancel()

    scheduler.call_later(COALESCE_FROM, first)
    second = scheduler.call_later(COALESCE_FROM, lambda: fired.append("second"))
    await asyncio.sleep(COALESCE_FROM + 2 * SLOT)
    assert fired == ["first"]


async def test_short_timers_keep_their_own_loop_timer() -> None:
    scheduler = LoopScheduler()
    loop = asyncio.get_running_loop()
    fired: list[float] = []
    start = loop.time()
    scheduler.call_later(0.05, lambda: fired.append(loop.time()))
    assert scheduler.slots == {}
    await asyncio.sleep(0.2)
    assert len(fired) == 1
    assert fired[0] >= start + 0.05
