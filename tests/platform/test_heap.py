"""The collector after start-up: the start-up heap frozen, thresholds raised."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from zongji.platform.heap import THRESHOLDS, settle_after_start


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Whatever the test does to the collector is undone, so other tests run as before."""
    thresholds = gc.get_threshold()
    enabled = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()


def test_settling_freezes_the_start_up_heap_and_raises_thresholds(restored_gc: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    alive: list[object] = []  # a container: the collector tracks it
    assert any(obj is alive for obj in gc.get_objects())
    frozen = settle_after_start()
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700  # fewer young collections than CPython's default
    assert frozen == gc.get_freeze_count() > 0
    # what was alive at the time is never scanned again: not tracked in generations 0-2
    assert not any(obj is alive for obj in gc.get_objects())
    # objects made afterwards are collected as usual
    later: list[object] = []
    later.append(later)
    assert any(obj is later for obj in gc.get_objects())


def test_thresholds_can_be_chosen(restored_gc: None) -> None:
    settle_after_start((1000, 15, 15))
    assert gc.get_threshold() == (1000, 15, 15)
