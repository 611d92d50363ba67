"""The authentication guard: sources that guess passwords are blocked for a while, sources that
flood are throttled (issue 6, "a source that fails authentication repeatedly is blocked").

Two mechanisms, both per source address and in memory (a flood reaches one node):

- *failures*: `failed(host)` counts a wrong password, an unknown username, another enterprise's
  credential. `sip_auth_max_failures` of them within `sip_auth_failure_window` seconds block the
  source for `sip_auth_block_seconds`. A success (`succeeded`) forgets its failures: a phone with
  a fat-fingered password that is then corrected is not punished later.
- *rate*: a token bucket per source for REGISTER and INVITE (`sip_source_rate` per second, bursts
  of `sip_source_burst`). Other methods (ACK, BYE, CANCEL, in-dialog requests) are never
  throttled here: they belong to calls already admitted.

`admit(host, method)` is what the SIP front door asks for every out-of-dialog request. When it
says no, the front door (`calls/component.py`) answers 403: one datagram, which tells an honest
but misconfigured device why, and costs less than the transaction a challenge would open. A
source that floods gets 403s only as fast as it sends, never an amplified answer.

Operators see the current blocks (`blocks()`) and lift one (`unblock(host)`) from the platform
API. Trusted sources (`trusted`, e.g. carrier trunks) are never blocked or throttled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from zongji.platform.clock import Clock

RATED_METHODS = frozenset({"REGISTER", "INVITE", "SUBSCRIBE"})
MAX_TRACKED = 100_000  # sources remembered at once; the stalest are forgotten beyond this


@dataclass(frozen=True)
class Block:
    host: str
    since: datetime
    until: datetime
    failures: int


@dataclass
class _Bucket:
    tokens: float
    at: float


class AuthGuard:
    def __init__(
        self,
        clock: Clock,
        *,
        max_failures: int = 10,
        failure_window: float = 60.0,
        block_seconds: float = 600.0,
        rate: float = 50.0,
        burst: float = 200.0,
        trusted: Iterable[str] = (),
    ) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.block_seconds = block_seconds
        self.rate = rate
        self.burst = burst
        self.trusted = set(trusted)
        self._failures: dict[str, deque[float]] = {}
        self._blocked: dict[str, tuple[float, Block]] = {}  # host -> (monotonic until, block)
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0  # requests turned away (blocked or over the rate)

    # -- the front door ------------------------------------------------------------------------

    def admit(self, host: str, method: str) -> bool:
        """May this request from `host` go on? False: blocked, or over its rate."""
        if host in self.trusted:
            return True
        if self.blocked(host):
            self.refused += 1
            return False
        if method in RATED_METHODS and not self._take(host):
            self.refused += 1
            return False
        return True

    def blocked(self, host: str) -> bool:
        entry = self._blocked.get(host)
        if entry is None:
            return False
        if entry[0] <= self._clock.monotonic():
            del self._blocked[host]
            return False
        return True

    # -- what authentication reports -----------------------------------------------------------

    def failed(self, host: str) -> bool:
        """Count an authentication failure; True if the source is now blocked."""
        if host in self.trusted:
            return False
        now = self._clock.monotonic()
        window = self._failures.get(host)
        if window is None:
            if len(self._failures) >= MAX_TRACKED:
                self._forget_stale(now)
            window = self._failures[host] = deque()
        while window and window[0] <= now - self.failure_window:
            window.popleft()
        window.append(now)
        if len(window) >= self.max_failures:
            count = len(window)
            del self._failures[host]
            wall = self._clock.now()
            block = Block(host, wall, wall + timedelta(seconds=self.block_seconds), count)
            self._blocked[host] = (now + self.block_seconds, block)
            return True
        return False

    def succeeded(self, host: str) -> None:
        self._failures.pop(host, None)

    # -- the operator --------------------------------------------------------------------------

    def blocks(self) -> list[Block]:
        """Sources blocked now, most recent first."""
        now = self._clock.monotonic()
        for host in [h for h, (until, _) in self._blocked.items() if until <= now]:
            del self._blocked[host]
        return sorted((b for _, b in self._blocked.values()), key=lambda b: b.since, reverse=True)

    def unblock(self, host: str) -> bool:
        """Lift a block (and forget the source's failures); False if it was not blocked."""
        self._failures.pop(host, None)
        return self._blocked.pop(host, None) is not None

    # -- internals -----------------------------------------------------------------------------

    def _take(self, host: str) -> bool:
        now = self._clock.monotonic()
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.clear()  # all full again within a second at most: harmless
            self._buckets[host] = _Bucket(self.burst - 1, now)
            return True
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_stale(self, now: float) -> None:
        for host in [
            h for h, w in self._failures.items() if not w or w[-1] <= now - self.failure_window
        ]:
            del self._failures[host]
        while len(self._failures) >= MAX_TRACKED:
            del self._failures[next(iter(self._failures))]
