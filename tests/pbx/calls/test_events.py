"""The media event router (`calls/events.py`): closed legs' endpoints forgotten together."""

from __future__ import annotations

import asyncio

import pytest

from zongji.media import LocalMediaServer, MediaEvent
from zongji.pbx.calls import events
from zongji.pbx.calls.events import MediaEventRouter


class _Listener:
    def media_event(self, event: MediaEvent) -> None:
        pass


async def test_closed_endpoints_are_forgotten_after_the_delay_by_one_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "FORGET_AFTER", 0.05)
    monkeypatch.setattr(events, "FORGET_BATCH", 0.02)
    router = MediaEventRouter(LocalMediaServer())
    listeners = [_Listener() for _ in range(3)]
    for number, listener in enumerate(listeners):
        router.listen(f"ep-{number}", listener)
    router.forget_later("ep-0")
    router.forget_later("ep-1")
    timer = router._forget_timer
    assert timer is not None
    assert router._listeners.get("ep-0") is listeners[0]  # not yet: its events may still come
    await asyncio.sleep(0.01)
    router.forget_later("ep-2")
    assert router._forget_timer is timer  # one timer for all of them
    await asyncio.sleep(0.2)
    assert [router._listeners.get(f"ep-{n}") for n in range(3)] == [None, None, None]
    assert router._forget_timer is None  # nothing left to forget: no timer kept
    await router.stop()
