"""The one 20 ms clock: absolute deadlines, measured lateness, and 500 streams on it."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from zongji.media import EndpointSpec, LocalMediaServer, ManualClock, MediaClock, Tone, ToneKind


def test_manual_clock_runs_listeners_in_order() -> None:
    clock = ManualClock()
    seen: list[tuple[str, int]] = []
    clock.add_listener(lambda t: seen.append(("a", t)))
    clock.add_listener(lambda t: seen.append(("b", t)))
    clock.advance(2)
    assert seen == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]


async def test_ticks_on_absolute_deadlines_without_drift() -> None:
    clock = MediaClock()
    stamps: list[float] = []
    clock.add_listener(lambda t: stamps.append(time.monotonic()))
    clock.start()
    await asyncio.sleep(1.0)
    # a slow listener once: the following ticks come sooner, the average rate is kept
    clock.add_listener(lambda t: time.sleep(0.05) if t == 60 else None)
    await asyncio.sleep(1.0)
    clock.stop()
    elapsed = time.monotonic() - clock.deadline(0)
    assert clock.tick == pytest.approx(elapsed / 0.020, abs=3)
    for tick, at in enumerate(stamps, start=1):
        assert at >= clock.deadline(tick) - 0.0015  # never meaningfully early
    stats = clock.stats()
    assert stats.caught_up >= 1  # the 50 ms stall cost a whole tick, run back to back
    assert stats.skipped == 0


class SteppedTime:
    """A monotonic time source the test moves by hand: the clock's idea of "now"."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


async def test_long_stall_skips_ticks_and_says_so() -> None:
    """Tick 5's work holds the loop for 205 ms. The loop wakes 185 ms past tick 6's deadline:
    9 whole ticks behind, so 2 are run back to back (`max_catch_up=2`), 7 are skipped and never
    reach a listener, and the stall is reported. The time source is injected, so this is exact
    and independent of how busy the machine is (every other tick ends on its deadline)."""
    now = SteppedTime()
    clock = MediaClock(max_catch_up=2, now=now)
    seen: list[int] = []
    done = asyncio.Event()

    def work(tick: int) -> None:
        seen.append(tick)
        if tick == 5:
            now.value += 0.205  # the stall
        now.value = max(now.value, clock.deadline(tick + 1))  # the loop wakes on the next deadline
        if tick >= 20:
            clock.stop()
            done.set()

    clock.add_listener(work)
    clock.start()
    await asyncio.wait_for(done.wait(), timeout=30)

    assert seen == [1, 2, 3, 4, 5, *range(13, 21)]  # ticks 6-12 skipped: no burst of stale audio
    stats = clock.stats()
    assert stats.ticks == 20  # the tick count keeps to wall time: skipped ticks still count
    assert stats.skipped == 7
    assert stats.caught_up == 2
    assert stats.late_max_ms == pytest.approx(185.0, abs=1e-6)
    assert stats.late_p50_ms == 0.0


async def test_a_real_stall_is_measured_on_the_real_clock() -> None:
    """The default time source is the real one: a listener that really sleeps 200 ms shows up as
    lateness and skipped ticks. Bounds from below only, with room: a busy machine can only make
    the loop later, and the timer may wake at most ~1 ms early (lateness ≥ 200 - 20 - 1 ms, so
    ≥ 8 ticks behind, ≥ 6 skipped)."""
    clock = MediaClock(max_catch_up=2)
    past_the_stall = asyncio.Event()

    def work(tick: int) -> None:
        if tick == 5:
            time.sleep(0.2)
        elif tick >= 15:  # well past the stall, however slowly this machine runs
            past_the_stall.set()

    clock.add_listener(work)
    clock.start()
    await asyncio.wait_for(past_the_stall.wait(), timeout=30)
    clock.stop()
    stats = clock.stats()
    assert stats.skipped >= 4
    assert stats.late_max_ms >= 150


async def test_500_streams_each_send_one_packet_per_tick_that_runs() -> None:
    """500 endpoints each play a tone on the clock: every tick that runs sends one packet per
    stream, and a tick skipped under load sends none (it is counted, not silently lost). How late
    the ticks start is a speed figure, measured by `bench/bench_media_clock.py`, not here."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        async with LocalMediaServer(port_min=0) as media:
            ids = []
            for _ in range(500):
                ep = await media.create_endpoint(
                    EndpointSpec(remote=sink.getsockname(), rtcp_mux=True)
                )
                await media.play(ep.id, [Tone(ToneKind.DIAL)], loop=True)
                ids.append(ep.id)
            await asyncio.sleep(0.2)
            assert isinstance(media.clock, MediaClock)
            media.clock.reset_stats()
            first_tick = media.clock.tick
            before = [(await media.endpoint_stats(i)).packets_sent for i in ids]
            await asyncio.sleep(1.0)
            after = [(await media.endpoint_stats(i)).packets_sent for i in ids]
            ran = media.clock.tick - first_tick - media.clock.stats().skipped
    finally:
        sink.close()
    sent = [a - b for a, b in zip(after, before, strict=True)]
    assert min(sent) > 0, "a stream sent nothing"
    # the two readings are not atomic: a tick may fall between them (one packet per stream)
    assert abs(sum(sent) - 500 * ran) <= 2 * 500, (sum(sent), ran)
