"""One reader of the media engine's event stream, handing each event to the leg it is about.

`MediaServer.events()` has exactly one consumer (docs/media.md). Call control has many legs, each
waiting for its own digits, playback ends, recordings and media timeouts; the router reads the
stream in one task and delivers every event to whatever registered for that endpoint id. Events
for endpoints nobody listens to (a leg already gone) are dropped.

The router holds its listeners weakly: a leg is kept by its call (and by an application waiting
on it), never by the router, so a finished call's legs are freed by reference counting the moment
the call lets go of them; a leg nobody holds has nobody waiting for its events either.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import weakref
from typing import Protocol

from zongji.media import (
    DtmfReceived,
    MediaEvent,
    MediaServer,
    MediaTimeout,
    PlaybackFinished,
    RecordingFinished,
)

log = logging.getLogger(__name__)

#: How long a closed leg's endpoint stays routed (`forget_later`): a RecordingFinished for a
#: recording saved as the endpoint went still reaches the application waiting for it.
FORGET_AFTER = 5.0
#: Ended endpoints are forgotten together, at most this often: one timer for many calls'
#: legs rather than one per leg (an endpoint may so stay routed up to this much longer).
FORGET_BATCH = 1.0


class EventListener(Protocol):
    def media_event(self, event: MediaEvent) -> None: ...


def endpoint_of(event: MediaEvent) -> str | None:
    """The endpoint an event is about (conference-wide events have none we route by)."""
    if isinstance(event, (DtmfReceived, RecordingFinished, MediaTimeout)):
        return event.endpoint_id
    if isinstance(event, PlaybackFinished):
        return event.target
    return None


class MediaEventRouter:
    def __init__(self, media: MediaServer) -> None:
        self._media = media
        self._listeners: weakref.WeakValueDictionary[str, EventListener] = (
            weakref.WeakValueDictionary()
        )
        self._task: asyncio.Task[None] | None = None
        #: (loop time due, endpoint id) of closed legs' endpoints, oldest first
        self._forgetting: collections.deque[tuple[float, str]] = collections.deque()
        self._forget_timer: asyncio.TimerHandle | None = None

    def listen(self, endpoint_id: str, listener: EventListener) -> None:
        self._listeners[endpoint_id] = listener

    def forget(self, endpoint_id: str) -> None:
        self._listeners.pop(endpoint_id, None)

    def forget_later(self, endpoint_id: str) -> None:
        """Forget `endpoint_id` `FORGET_AFTER` seconds from now (or a little later: see
        `FORGET_BATCH`)."""
        loop = asyncio.get_running_loop()
        self._forgetting.append((loop.time() + FORGET_AFTER, endpoint_id))
        if self._forget_timer is None:
            self._forget_timer = loop.call_later(FORGET_AFTER, self._forget_due)

    def _forget_due(self) -> None:
        self._forget_timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        queue = self._forgetting
        while queue and queue[0][0] <= now:
            self._listeners.pop(queue.popleft()[1], None)
        if queue:
            wait = max(queue[0][0] - now, FORGET_BATCH)
            self._forget_timer = loop.call_later(wait, self._forget_due)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._forget_timer is not None:
            self._forget_timer.cancel()
            self._forget_timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        async for event in self._media.events():
            endpoint_id = endpoint_of(event)
            if endpoint_id is None:
                continue
            listener = self._listeners.get(endpoint_id)
            if listener is None:
                continue
            try:
                listener.media_event(event)
            except Exception:  # one broken leg must not stop every other call's events
                log.exception("media event handler failed for %s", endpoint_id)
