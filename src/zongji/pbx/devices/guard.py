"""The authentication guard: sources that guess passwords are blocked for a while, sources that
flood are throttled (issue 6, "a source that fails authentication repeatedly is blocked").

Two mechanisms, both in memory (a flood reaches one node):

- *failures*: `failed(...)` counts a password guessed wrong: a wrong response, an unknown
  username, another enterprise's credential, a replayed nonce-count, each to a nonce we issued
  *to that source* (`DigestAuthenticator`'s `FAILED`). Nothing anyone can send from a forged
  address counts: a nonce we never issued, or issued elsewhere, malformed credentials, a foreign
  realm, since ten spoofed datagrams would otherwise lock any address (a carrier, a company's
  NAT) out. `sip_auth_max_failures` failures within `sip_auth_failure_window` seconds block
  the source for `sip_auth_block_seconds`. A success (`succeeded`) forgets its failures: a phone
  with a fat-fingered password that is then corrected is not punished later.
- *rate*: a token bucket per source for REGISTER, INVITE and SUBSCRIBE (`sip_source_rate` per
  second, bursts of `sip_source_burst`). Other methods (ACK, BYE, CANCEL, in-dialog requests)
  are never throttled here: they belong to calls already admitted.

What a "source" is depends on who sent the request:

- a *trunk* (`trusted(host, port)`, the trunk registry's own test of where a carrier's requests
  come from, current whenever trunks change) is never blocked, throttled or counted: a block
  there would refuse every inbound call;
- a *trusted proxy* (`proxies`, the operator's `sip_trusted_proxies`: addresses or CIDR blocks
  of SIP proxies in front of phones) speaks for many phones, so its failures count, and its
  blocks apply, per (address, Digest username); it is not throttled (the proxy does that);
- anything else is one source per address.

`admit(host, port, method)` is what the SIP front door asks for every out-of-dialog request.
When it says no, the front door (`calls/component.py`) answers 403, statelessly: one datagram,
which tells an honest but misconfigured device why, and costs less than the transaction a
challenge would open. A source that floods gets 403s only as fast as it sends, never an
amplified answer. Blocks per username (behind a proxy) are checked by `DeviceAuth`, which knows
the username.

Operators see the current blocks (`blocks()`) and lift one (`unblock(host)`) from the platform
API.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from zongji.platform.clock import Clock

RATED_METHODS = frozenset({"REGISTER", "INVITE", "SUBSCRIBE"})
MAX_TRACKED = 100_000  # sources remembered at once; the stalest are forgotten beyond this

TrustedSource = Callable[[str, int], bool]
"""(host, port) -> whether requests from there are a trunk's (never blocked or throttled)."""

_Key = tuple[str, str | None]  # (address, Digest username behind a trusted proxy, else None)


@dataclass(frozen=True)
class Block:
    host: str
    since: datetime
    until: datetime
    failures: int
    username: str | None = None  # set for a block behind a trusted proxy: only this username


def _never(host: str, port: int) -> bool:
    return False


def parse_networks(
    entries: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses and CIDR blocks (`10.0.0.5`, `10.1.0.0/16`, `2001:db8::/32`) as networks;
    ValueError names the first entry that is neither."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR block: {entry!r}") from None
    return tuple(networks)


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
        trusted: TrustedSource = _never,
        proxies: Iterable[str] = (),
    ) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.block_seconds = block_seconds
        self.rate = rate
        self.burst = burst
        self.trusted = trusted
        self.proxies = parse_networks(proxies)
        self._failures: dict[_Key, deque[float]] = {}
        self._blocked: dict[_Key, tuple[float, Block]] = {}  # key -> (monotonic until, block)
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0  # requests turned away (blocked or over the rate)

    # -- the front door ------------------------------------------------------------------------

    def admit(self, host: str, port: int, method: str) -> bool:
        """May this request from `host`:`port` go on? False: blocked, or over its rate."""
        if self.trusted(host, port):
            return True
        if self.blocked(host):
            self.refused += 1
            return False
        if method in RATED_METHODS and not self.is_proxy(host) and not self._take(host):
            self.refused += 1
            return False
        return True

    def is_proxy(self, host: str) -> bool:
        """Whether `host` is a trusted proxy (counted per username)."""
        if not self.proxies:
            return False
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def blocked(self, host: str, username: str | None = None) -> bool:
        """Whether requests from `host` (for `username`, behind a trusted proxy) are refused."""
        if self._blocked_key((host, None)):
            return True
        return self.is_proxy(host) and self._blocked_key(self._key(host, username))

    # -- what authentication reports -----------------------------------------------------------

    def failed(self, host: str, port: int, username: str | None = None) -> bool:
        """Count a wrong guess at a password (to a nonce issued to this source); True if the
        source is now blocked."""
        if self.trusted(host, port):
            return False
        key = self._key(host, username)
        now = self._clock.monotonic()
        window = self._failures.get(key)
        if window is None:
            if len(self._failures) >= MAX_TRACKED:
                self._forget_stale(now)
            window = self._failures[key] = deque()
        while window and window[0] <= now - self.failure_window:
            window.popleft()
        window.append(now)
        if len(window) >= self.max_failures:
            count = len(window)
            del self._failures[key]
            wall = self._clock.now()
            until = wall + timedelta(seconds=self.block_seconds)
            self._blocked[key] = (now + self.block_seconds, Block(host, wall, until, count, key[1]))
            return True
        return False

    def succeeded(self, host: str, username: str | None = None) -> None:
        self._failures.pop(self._key(host, username), None)

    # -- the operator --------------------------------------------------------------------------

    def blocks(self) -> list[Block]:
        """Sources blocked now, most recent first."""
        now = self._clock.monotonic()
        for key in [k for k, (until, _) in self._blocked.items() if until <= now]:
            del self._blocked[key]
        return sorted((b for _, b in self._blocked.values()), key=lambda b: b.since, reverse=True)

    def unblock(self, host: str, username: str | None = None) -> bool:
        """Lift the blocks of `host` (all of them, or only `username`'s behind a proxy) and
        forget its failures; False if nothing was blocked."""
        keys = [k for k in self._blocked if k[0] == host and username in (None, k[1])]
        for key in [k for k in self._failures if k[0] == host and username in (None, k[1])]:
            del self._failures[key]
        for key in keys:
            del self._blocked[key]
        return bool(keys)

    # -- internals -----------------------------------------------------------------------------

    def _key(self, host: str, username: str | None) -> _Key:
        """Failures behind a trusted proxy count per username; elsewhere per address."""
        return (host, username or "") if self.is_proxy(host) else (host, None)

    def _blocked_key(self, key: _Key) -> bool:
        entry = self._blocked.get(key)
        if entry is None:
            return False
        if entry[0] <= self._clock.monotonic():
            del self._blocked[key]
            return False
        return True

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
        for key in [
            k for k, w in self._failures.items() if not w or w[-1] <= now - self.failure_window
        ]:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:
            del self._failures[next(iter(self._failures))]
