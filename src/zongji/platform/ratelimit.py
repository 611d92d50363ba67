"""Sliding-window rate limits, per key (a mobile number, a source address, a login).

Kept in memory on this node: limits protect against floods from one place, and a flood reaches one
node through one connection. Several nodes behind a balancer get a shared store later, behind the
same interface.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from zongji.platform.clock import Clock
from zongji.platform.errors import too_many_requests


@dataclass(frozen=True)
class Limit:
    count: int
    per_seconds: float


class RateLimiter:
    def __init__(self, clock: Clock, max_keys: int = 200_000) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def retry_after(self, key: str, limits: Sequence[Limit]) -> float | None:
        """Seconds until one more hit would be allowed under every limit; None if allowed now."""
        hits = self._hits.get(key)
        if not hits:
            return None
        now = self._clock.monotonic()
        wait = 0.0
        for limit in limits:
            recent = [t for t in hits if t > now - limit.per_seconds]
            if len(recent) >= limit.count:
                wait = max(wait, recent[-limit.count] + limit.per_seconds - now)
        return wait or None

    def hit(self, key: str, keep_seconds: float) -> None:
        now = self._clock.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._prune(now, keep_seconds)
            hits = self._hits[key] = deque(maxlen=256)
        while hits and hits[0] <= now - keep_seconds:
            hits.popleft()
        hits.append(now)

    def check(self, key: str, limits: Sequence[Limit]) -> None:
        """Raise 429 if `key` is over any limit."""
        wait = self.retry_after(key, limits)
        if wait is not None:
            raise too_many_requests(wait)

    def take(self, key: str, limits: Sequence[Limit]) -> None:
        """Check, then count one hit."""
        self.check(key, limits)
        self.hit(key, max(limit.per_seconds for limit in limits))

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _prune(self, now: float, keep_seconds: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - keep_seconds]:
            del self._hits[key]
        while len(self._hits) >= self._max_keys:  # still full: forget the stalest keys
            del self._hits[next(iter(self._hits))]
