"""Sliding windows: a limit allows its count per window, then says how long to wait."""

from __future__ import annotations

import pytest

from zongji.platform.clock import FakeClock
from zongji.platform.errors import Problem
from zongji.platform.ratelimit import Limit, RateLimiter


def test_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limits = [Limit(2, 10)]
    limiter.take("k", limits)
    clock.advance(3)
    limiter.take("k", limits)
    with pytest.raises(Problem) as refused:
        limiter.take("k", limits)
    assert refused.value.status == 429
    assert refused.value.extra["retry_after"] == 7
    clock.advance(7)
    limiter.take("k", limits)  # the first hit left the window
    limiter.take("other", limits)  # keys are independent


def test_the_strictest_limit_wins() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limits = [Limit(1, 60), Limit(3, 3600)]
    for _ in range(3):
        limiter.take("k", limits)
        clock.advance(61)
    wait = limiter.retry_after("k", limits)
    assert wait is not None
    assert wait > 3000


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, max_keys=100)
    for i in range(1000):
        limiter.hit(f"k{i}", 60)
    assert len(limiter._hits) <= 100
