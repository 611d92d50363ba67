"""The soak benchmark's own logic (`bench/soak_pbx.py`): how SIPp's cumulative statistics rows
and response-time rows become per-minute figures, and when a rate counts as held. The soak
itself runs SIPp against a node for minutes, so it is exercised by `make bench-smoke`, not here."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from bench_pbx_calls import Run  # noqa: E402
from soak_pbx import (  # noqa: E402
    Minute,
    overload_verdict,
    per_interval,
    percentile,
    rss_flat,
    setup_times,
    stat_rows,
    verdict,
)

START = 1_796_660_000.0


def row(seconds: float, outgoing: int, successful: int) -> dict[str, str]:
    stamp = "2026-12-07\t16:00:00.000000\t"
    return {
        "StartTime": f"{stamp}{START:.6f}",
        "CurrentTime": f"{stamp}{START + seconds:.6f}",
        "OutgoingCall(C)": str(outgoing),
        "SuccessfulCall(C)": str(successful),
    }


def test_cumulative_rows_become_each_intervals_increase() -> None:
    # a row a second, dumped a few ms late; arrivals stop at 3 s, the tail completes at 4 s
    rows = [
        row(1.004, 10, 0),
        row(2.003, 20, 10),
        row(3.006, 30, 20),
        row(4.002, 30, 30),
    ]
    got = per_interval(rows, ("OutgoingCall", "SuccessfulCall"), 1.0, 3)
    assert got == [
        {"OutgoingCall": 10, "SuccessfulCall": 0},
        {"OutgoingCall": 10, "SuccessfulCall": 10},
        # the last interval runs to the last row: the calls completing after arrivals stop
        {"OutgoingCall": 10, "SuccessfulCall": 20},
    ]


def test_an_interval_without_rows_counts_nothing() -> None:
    rows = [row(1.0, 10, 10), row(3.0, 30, 30)]  # SIPp missed the 2 s dump
    got = per_interval(rows, ("OutgoingCall",), 1.0, 3)
    assert got == [{"OutgoingCall": 10}, {"OutgoingCall": 0}, {"OutgoingCall": 20}]


def test_stat_rows_read_sipp_columns(tmp_path: Path) -> None:
    path = tmp_path / "uac.csv"
    path.write_text("StartTime;CurrentTime;OutgoingCall(C);\na\t1;b\t2;7;\n")
    assert stat_rows(path) == [
        {"StartTime": "a\t1", "CurrentTime": "b\t2", "OutgoingCall(C)": "7", "": ""}
    ]
    assert stat_rows(tmp_path / "missing.csv") == []


def test_setup_times_are_grouped_by_when_they_were_measured(tmp_path: Path) -> None:
    path = tmp_path / "caller_1_rtt.csv"
    path.write_text("Date_ms;response_time_ms;rtd_no\n500;4;1\n1500;6;1\n2500;9;1\n9000;12;1\n")
    # 9 s is past the last of three 1 s intervals: it belongs to the last (the run's tail)
    assert setup_times([path], 1.0, 3) == [[4.0], [6.0], [9.0, 12.0]]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_memory_is_flat_within_8_mb_or_2_percent_of_minute_2() -> None:
    # minute 1 is start-up: its growth does not count
    assert rss_flat([300.0, 450.0, 455.0, 458.0]) is True
    assert rss_flat([300.0, 450.0, 455.0, 459.0]) is True  # 2 % of 450 MB is 9 MB
    assert rss_flat([300.0, 450.0, 455.0, 459.5]) is False
    assert rss_flat([100.0, 100.0, 108.0]) is True  # small nodes: 8 MB
    assert rss_flat([100.0, 100.0, 108.5]) is False
    assert rss_flat([300.0, 450.0]) is None  # too short to judge


def minutes(*memory: float, answered: int = 10) -> list[Minute]:
    return [
        Minute(k + 1, 10, 10, answered, 0, 0, 4.0, 8.0, 0.5, 1000.0, m)
        for k, m in enumerate(memory)
    ]


def pbx_run(**changes: object) -> Run:
    run = Run("pbx", 10, 30_000, ok=30_000, callee_ok=30_000, records={"answered": 30_000})
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_a_clean_run_with_flat_memory_is_held() -> None:
    got = verdict(pbx_run(retrans=29), minutes(300, 450, 452))
    assert got.held
    assert got.line() == "HELD"


@pytest.mark.parametrize(
    ("changes", "memory", "reason"),
    [
        ({"ok": 29_999, "failed": 1}, (300, 450, 452), "1 of 30000 calls failed"),
        ({"callee_ok": 29_990}, (300, 450, 452), "the callee completed 29990"),
        ({"records": {"answered": 29_000, "failed": 1000}}, (300, 450, 452), "records"),
        ({"retrans": 30}, (300, 450, 452), "30 retransmissions = 0.10 %"),
        ({}, (300, 450, 470), "memory grew 450 → 470 MB"),
        ({}, (300, 450), "memory not judged"),
        ({"note": "caller cut off at its deadline"}, (300, 450, 452), "cut off"),
    ],
)
def test_a_run_is_not_held(
    changes: dict[str, object], memory: tuple[float, ...], reason: str
) -> None:
    got = verdict(pbx_run(**changes), minutes(*memory))
    assert not got.held
    assert reason in got.line()


def test_kamailio_has_no_records_to_check() -> None:
    run = Run("kamailio", 10, 30_000, ok=30_000, callee_ok=30_000)
    assert verdict(run, minutes(500, 500, 500)).held


def limited_run(**changes: object) -> Run:
    """15 calls/s offered for three 60 s minutes to a node limited to 10: 1,800 answered."""
    run = Run("pbx", 15, 2_700, ok=2_700, callee_ok=1_800, records={"answered": 1_800})
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def test_an_overloaded_node_copes_when_it_answers_its_limit_and_refuses_cleanly() -> None:
    got = overload_verdict(limited_run(), minutes(300, 450, 452, answered=600), 10, 60.0)
    assert got.held
    assert got.line() == "COPED"


@pytest.mark.parametrize(
    ("changes", "memory", "reason"),
    [
        ({"ok": 2_699, "failed": 1}, (300, 450, 452), "1 of 2700 calls failed"),
        ({"callee_ok": 1_790}, (300, 450, 452), "the callee completed 1790 calls"),
        ({"records": {"answered": 1_800, "failed": 3}}, (300, 450, 452), "records"),
        (
            {"callee_ok": 1_500, "records": {"answered": 1_500}},
            (300, 450, 452),
            "answered 8 calls/s, under 95 % of the limit 10",
        ),
        ({"retrans": 3}, (300, 450, 452), "3 retransmissions"),
        ({}, (300, 450, 470), "memory grew 450 → 470 MB"),
    ],
)
def test_an_overloaded_node_does_not_cope(
    changes: dict[str, object], memory: tuple[float, ...], reason: str
) -> None:
    got = overload_verdict(limited_run(**changes), minutes(*memory, answered=600), 10, 60.0)
    assert not got.held
    assert got.line().startswith("NOT COPED: ")
    assert reason in got.line()
