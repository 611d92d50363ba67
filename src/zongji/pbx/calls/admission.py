"""Overload control: whether this node takes one more call (issue 16, item 3).

Past its rating a node that keeps accepting calls serves all of them badly: the event loop falls
behind, answers come late, phones and carriers retransmit, the retransmissions add load, and
calls already up lose audio and their BYEs. So a new call is refused *early and cheaply* instead:
the SIP front door (`calls/component.py`) asks `CallAdmission.refusal` first thing for every
out-of-dialog INVITE, before authentication (no Digest work, no nonce) and before anything is
written, and answers a refusal with `503 Service Unavailable` and `Retry-After`, *statelessly*:
one datagram, no transaction kept, nothing retransmitted by Timer G (a stateful 503 over UDP is
resent up to ten times until the caller's ACK; under overload that is the storm we avoid). The
caller's own retransmissions of an INVITE already being handled match its server transaction
and never reach the front door, so they are neither counted nor refused twice.

Three rules, each off when its setting is 0, anchored on FreeSWITCH (`sessions-per-second`,
`max-sessions`) and Asterisk (`maxcalls`, `maxload`):

- *rate* (`sip_max_call_rate`, calls per second): a token bucket holding one second's worth of
  calls. A call is charged once: a phone's first INVITE carries no credentials and is only
  challenged (a stateless 407, cheap), so it is checked against the bucket but not charged; the
  INVITE that carries credentials, or any INVITE from a trunk (never challenged), takes a token.
- *calls* (`sip_max_calls`): INVITEs being handled at once — ringing, talking, or still being
  authorised and routed — counted from the front door until the call's handler returns.
- *lag* (`sip_max_loop_lag`, seconds): how late the event loop runs its timers (`LoopLag`), the
  one figure that says "this process is saturated" whatever the cause (CPU, a slow database
  driver, another tenant's burst); the loop-lag analogue of Asterisk's `maxload`.

Nothing else is ever refused here: requests inside a dialog (re-INVITE, BYE, INFO) never come
through the front door, and REGISTER, SUBSCRIBE and OPTIONS are not calls. Calls the node
places itself (`CallEngine.originate`, from the API) are not admitted here either.

The state is read by `/metrics` through `AdmissionCollector`: current values, limits and the
refusals by rule, computed at scrape time (nothing on the call path but an integer add).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from zongji.platform.clock import Clock
from zongji.platform.config import Settings

RETRY_AFTER = 1
"""Seconds a refused caller is asked to wait (`Retry-After`). Short: overload here is a burst
measured in seconds, and a longer value makes an RFC 3261 proxy in front (§21.5.4) avoid the
node for that long, swinging it from overloaded to idle."""


class Refusal(StrEnum):
    RATE = "rate"
    CALLS = "calls"
    LAG = "lag"


@dataclass(frozen=True)
class AdmissionLimits:
    """The thresholds; 0 turns a rule off."""

    call_rate: float = 0.0  # new calls per second
    max_calls: int = 0  # calls being handled at once
    max_loop_lag: float = 0.0  # seconds, smoothed

    @classmethod
    def from_settings(cls, settings: Settings) -> AdmissionLimits:
        return cls(settings.sip_max_call_rate, settings.sip_max_calls, settings.sip_max_loop_lag)


class LoopLag:
    """How late the event loop runs a timer, smoothed: a timer every `interval` seconds notes
    how long after its due time it ran. Ten timers a second cost nothing measurable; the
    exponential average (`SMOOTHING` of each new sample) rides over a single slow callback
    (a 1 s stall lifts it to 0.3 s, gone again within a second) but follows a loop that stays
    behind."""

    SMOOTHING = 0.3

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.value = 0.0  # seconds, smoothed
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def sample(self, late: float) -> None:
        self.value += self.SMOOTHING * (max(0.0, late) - self.value)

    def start(self) -> None:
        if self._handle is None:
            self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = loop.time() + self.interval
        self._handle = loop.call_at(self._due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sample(loop.time() - self._due)
        self._schedule(loop)


class CallAdmission:
    """The node's admission rules for new calls (see the module's docstring)."""

    def __init__(self, limits: AdmissionLimits, clock: Clock, lag: LoopLag | None = None) -> None:
        self.limits = limits
        self.clock = clock
        self.lag = lag if lag is not None else LoopLag()
        self.in_progress = 0
        self.admitted = 0  # calls charged to the rate, since start (a counter for /metrics)
        self.refused: dict[Refusal, int] = dict.fromkeys(Refusal, 0)
        self._capacity = max(1.0, limits.call_rate)  # one second's worth
        self._tokens = self._capacity
        self._at = clock.monotonic()

    def refusal(self, *, charge: bool = True) -> Refusal | None:
        """None when one more call may start (and, with `charge`, its token is taken); else the
        rule that refuses it, counted."""
        limits = self.limits
        reason: Refusal | None = None
        if limits.max_loop_lag > 0 and self.lag.value > limits.max_loop_lag:
            reason = Refusal.LAG
        elif limits.max_calls > 0 and self.in_progress >= limits.max_calls:
            reason = Refusal.CALLS
        elif limits.call_rate > 0 and not self._take(charge):
            reason = Refusal.RATE
        if reason is not None:
            self.refused[reason] += 1
        elif charge:
            self.admitted += 1
        return reason

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Counts one call in progress for as long as its handler runs."""
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1

    def tokens(self) -> float:
        """The calls the rate rule would take right now (the bucket's level)."""
        if self.limits.call_rate <= 0:
            return math.inf
        self._refill()
        return self._tokens

    def start(self) -> None:
        self.lag.start()

    def stop(self) -> None:
        self.lag.stop()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        elapsed = now - self._at
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed * self.limits.call_rate)
        self._at = now

    def _take(self, charge: bool) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        if charge:
            self._tokens -= 1
        return True


class AdmissionCollector:
    """`CallAdmission`'s figures for Prometheus, read when `/metrics` is scraped."""

    def __init__(self, admission: CallAdmission) -> None:
        self.admission = admission

    def collect(self) -> Iterable[Metric]:
        admission, limits = self.admission, self.admission.limits
        yield _gauge(
            "zongji_sip_calls_in_progress", "Calls being handled now", admission.in_progress
        )
        yield _gauge("zongji_sip_max_calls", "Limit of calls at once (0: none)", limits.max_calls)
        yield _gauge(
            "zongji_sip_max_call_rate", "Limit of new calls per second (0: none)", limits.call_rate
        )
        admitted = CounterMetricFamily(
            "zongji_sip_calls_admitted", "New calls admitted (charged to the rate limit)"
        )
        admitted.add_metric([], admission.admitted)
        yield admitted
        yield _gauge("zongji_sip_loop_lag_seconds", "Event-loop lag, smoothed", admission.lag.value)
        yield _gauge(
            "zongji_sip_max_loop_lag_seconds",
            "Loop lag past which new calls are refused (0: none)",
            limits.max_loop_lag,
        )
        refused = CounterMetricFamily(
            "zongji_sip_calls_refused",
            "New calls refused with 503 by overload control",
            labels=["reason"],
        )
        for reason, count in admission.refused.items():
            refused.add_metric([reason.value], count)
        yield refused


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
