"""Overload control's rules (`calls/admission.py`) on a fake clock: the call-rate bucket, the
calls in progress, the loop lag, and what `/metrics` shows of them."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from prometheus_client import generate_latest

from zongji.pbx.calls.admission import (
    AdmissionCollector,
    AdmissionLimits,
    CallAdmission,
    LoopLag,
    Refusal,
)
from zongji.platform.clock import FakeClock
from zongji.platform.config import Settings
from zongji.platform.metrics import Metrics


def _admission(**limits: float) -> tuple[CallAdmission, FakeClock]:
    clock = FakeClock()
    return CallAdmission(AdmissionLimits(**limits), clock), clock  # type: ignore[arg-type]


def test_nothing_is_refused_when_every_rule_is_off() -> None:
    admission, _ = _admission()
    admission.lag.sample(30.0)
    with admission.handling(), admission.handling():
        assert all(admission.refusal() is None for _ in range(10_000))
    assert admission.admitted == 10_000
    assert sum(admission.refused.values()) == 0


def test_the_rate_takes_a_second_s_worth_at_once_then_refills_at_the_rate() -> None:
    admission, clock = _admission(call_rate=10)
    assert [admission.refusal() for _ in range(10)] == [None] * 10
    assert admission.refusal() is Refusal.RATE
    assert admission.refusal() is Refusal.RATE
    clock.advance(0.1)  # one call's worth
    assert admission.refusal() is None
    assert admission.refusal() is Refusal.RATE
    clock.advance(60)  # idle for a minute: still no more than a second's worth
    assert [admission.refusal() for _ in range(11)] == [None] * 10 + [Refusal.RATE]
    assert admission.admitted == 21
    assert admission.refused == {Refusal.RATE: 4, Refusal.CALLS: 0, Refusal.LAG: 0}


def test_a_call_about_to_be_challenged_is_checked_but_not_charged() -> None:
    admission, clock = _admission(call_rate=2)
    assert admission.refusal(charge=False) is None
    assert admission.refusal(charge=False) is None
    assert admission.refusal(charge=False) is None
    assert admission.tokens() == 2  # the challenged INVITEs took nothing
    assert admission.refusal() is None
    assert admission.refusal() is None
    assert admission.refusal(charge=False) is Refusal.RATE  # an empty bucket refuses them too
    clock.advance(0.5)
    assert admission.refusal(charge=False) is None
    assert admission.admitted == 2


def _fail_while_handled(admission: CallAdmission) -> None:
    with admission.handling():
        assert admission.in_progress == 2
        assert admission.refusal() is Refusal.CALLS
        raise RuntimeError("the call failed")


def test_calls_in_progress_are_counted_until_their_handler_ends() -> None:
    admission, _ = _admission(max_calls=2)
    with admission.handling():
        assert admission.refusal() is None
        with pytest.raises(RuntimeError):
            _fail_while_handled(admission)  # a failed call is counted out too
        assert admission.in_progress == 1
        assert admission.refusal() is None
    assert admission.in_progress == 0
    assert admission.refused[Refusal.CALLS] == 1


def test_a_lagging_loop_refuses_calls_until_it_catches_up() -> None:
    admission, _ = _admission(max_loop_lag=0.5)
    admission.lag.sample(1.0)  # one stall: smoothed below the limit
    assert admission.refusal() is None
    for _ in range(5):  # the loop stays a second behind
        admission.lag.sample(1.0)
    assert admission.refusal() is Refusal.LAG
    for _ in range(10):  # on time again
        admission.lag.sample(0.0)
    assert admission.refusal() is None
    assert admission.refused[Refusal.LAG] == 1


def test_the_rules_come_from_the_settings() -> None:
    settings = Settings(sip_max_call_rate=300, sip_max_calls=400, sip_max_loop_lag=0.25)
    assert AdmissionLimits.from_settings(settings) == AdmissionLimits(300, 400, 0.25)
    assert AdmissionLimits.from_settings(Settings()) == AdmissionLimits(0, 0, 0)


class _RecordingLag(LoopLag):
    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.samples: list[float] = []

    def sample(self, late: float) -> None:
        self.samples.append(late)
        super().sample(late)


async def test_the_loop_lag_timer_sees_a_blocked_loop() -> None:
    lag = _RecordingLag(interval=0.01)
    lag.start()
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251 (a callback that blocks the loop: what is measured)
        await asyncio.sleep(0.05)
    finally:
        lag.stop()
    # the tick due during the block ran when it ended: at least 0.29 s late
    assert max(lag.samples) > 0.25
    assert lag.value > 0
    count = len(lag.samples)
    await asyncio.sleep(0.05)
    assert len(lag.samples) == count  # stopped: no more ticks


def test_metrics_show_the_values_the_limits_and_the_refusals() -> None:
    admission, _ = _admission(call_rate=1, max_calls=5, max_loop_lag=0.5)
    metrics = Metrics()
    metrics.registry.register(AdmissionCollector(admission))
    assert admission.refusal() is None
    assert admission.refusal() is Refusal.RATE
    with admission.handling():
        text = generate_latest(metrics.registry).decode()
    expected = {
        "zongji_sip_calls_in_progress": 1.0,
        "zongji_sip_max_calls": 5.0,
        "zongji_sip_max_call_rate": 1.0,
        "zongji_sip_calls_admitted_total": 1.0,
        "zongji_sip_loop_lag_seconds": 0.0,
        "zongji_sip_max_loop_lag_seconds": 0.5,
        'zongji_sip_calls_refused_total{reason="rate"}': 1.0,
        'zongji_sip_calls_refused_total{reason="calls"}': 0.0,
        'zongji_sip_calls_refused_total{reason="lag"}': 0.0,
    }
    for name, value in expected.items():
        found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        assert found is not None, (name, text)
        assert float(found.group(1)) == value, name
