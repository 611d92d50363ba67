"""The soak: one call rate held for minutes through the PBX, reported minute by minute.

A 20 s run (`bench_pbx_calls.py`) shows what a node can burst; a node is rated by what it holds.
The soak places calls at one rate for `--minutes` (default 10) through the full call path of
`bench_pbx_calls.py` — the same node (SQLite by default, `--postgres ADMIN_URL` for a fresh
PostgreSQL database), the same SIPp caller (Digest-authenticated INVITE) and callee, every call
held `--hold` ms, the node pinned to CPU 1 and SIPp to CPU 0 — and prints, per minute:

- calls attempted, completed and failed (the caller's SIPp counters) and SIP retransmissions
  (caller and callee);
- call setup time p50/p99: from the caller's first INVITE to its 200 OK, so it includes the 407
  challenge round trip, the authenticated INVITE, the fork to the callee and its answer. SIPp
  writes every call's time with `-trace_rtt` (the scenarios' `rtd` mark on the 200; the timer
  starts with the call), which gives exact percentiles per minute. The other way, periodic
  `-trace_stat` rows, carries only a mean and a coarse histogram (10, 20, 30 … 200 ms buckets),
  from which a p99 cannot be read. SIPp's times are whole milliseconds;
- node CPU, as a share of one core and as µs per call attempted (utime + stime, /proc), and
  its resident memory at the minute's end (VmRSS; for Kamailio's processes the sum of Pss).

The minutes are cut from the SIPp statistics rows (`-fd 1`, cumulative counters) by elapsed time;
the last minute also takes the calls still completing after the arrivals stop.

**Verdict.** The rate is *held* when over the whole run every call completed (0 failed, none cut
off; the callee completed every call and, for the PBX, every call left an `answered` record),
retransmissions were under 0.1 % of the calls, and the resident memory was *flat*: at the end of
the last minute it is at most max(8 MB, 2 %) above its value at the end of minute 2. Minute 2,
not minute 1, because a node fills up during its first minute (caches, allocator arenas, and
SIP transactions, which stay for up to 32 s after they end (Timer J/K), so the live set is full
only ~35 s in). The allowance absorbs allocator noise (a few MB as arenas and free lists move)
while catching a real leak: over minutes 3–10 at 100 calls/s, 8 MB is ~170 bytes per call. A
run of fewer than 3 minutes cannot judge memory, so it is never held.

    python bench/soak_pbx.py                       # 10 minutes at 100 calls/s, SQLite
    python bench/soak_pbx.py --rate 200 --minutes 5
    python bench/soak_pbx.py --ladder 100 150 200  # the sustained rating, and Kamailio at it
    python bench/soak_pbx.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    python bench/soak_pbx.py --overload 300        # 450 calls/s offered to a node limited to 300
    python bench/soak_pbx.py --smoke               # a few seconds: the machinery works (CI)
    make soak ARGS="--ladder 100 150 200"

`--ladder` soaks each rate in turn, stops at the first not held, and prints the **sustained
rating** (the highest rate held) beside Kamailio 5.6 (the calls bench's stateful proxy, the same
SIPp phones) soaked at that rating for the same minutes. This is not one of `make bench`'s
`bench_*.py` files: a soak takes ten minutes a rate, so it runs on its own (`make soak`);
`make bench-smoke` (CI) runs its `--smoke`.

**The overload run** (`--overload LIMIT`): the node's overload control is set to LIMIT new calls
a second (`sip_max_call_rate`) and offered `--rate` (default 1.5 × LIMIT) for the same minutes.
The caller's scenario takes a 503 to either INVITE as the call's end, so SIPp counts refused and
answered calls alike as successful; the answered ones are those with a setup time (the 200's
`rtd`) and an `answered` record. The node *copes* when no call failed, every call it answered
the callee completed and the records show, it answered at least 95 % of LIMIT a second (it keeps
carrying its rating), retransmissions stayed under 0.1 % of the calls offered (no storm: the
refusals are cheap and final), and its memory was flat.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_pbx_calls import Run, System, add_postgres_option, drive, kamailio_proxy, pbx_node
from sip_load import machine

MINUTE = 60.0
RETRANSMISSION_LIMIT = 0.001  # retransmissions < 0.1 % of the calls
FLAT_MB = 8.0  # resident memory is flat: last minute ≤ minute 2 + max(FLAT_MB, FLAT_SHARE)
FLAT_SHARE = 0.02
ANSWERED_SHARE = 0.95  # under overload the node still answers ≥ 95 % of its limit a second
MB = 1024 * 1024


# --------------------------------------------------------------------------- SIPp's files


def stat_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a SIPp `-trace_stat` file, by column name."""
    if not path.exists():
        return []
    lines = [line.split(";") for line in path.read_text().splitlines() if line.strip()]
    return [dict(zip(lines[0], row, strict=False)) for row in lines[1:]]


def elapsed(row: dict[str, str]) -> float:
    """Seconds since SIPp started, from a row's CurrentTime and StartTime; each reads
    `date<TAB>time<TAB>epoch seconds`."""
    return float(row["CurrentTime"].split("\t")[-1]) - float(row["StartTime"].split("\t")[-1])


def per_interval(
    rows: Sequence[dict[str, str]], names: Sequence[str], interval: float, count: int
) -> list[dict[str, int]]:
    """Cumulative SIPp counters (`name(C)` columns) cut into `count` intervals of `interval`
    seconds: each interval's increase of each counter. An interval ends at the last row dumped
    before its end (rows come every second, a few ms late: half a second of slack); the last
    interval ends at the last row, so it takes the calls that finish after the arrivals stop."""

    def value(row: dict[str, str] | None, name: str) -> int:
        try:
            return int(row[f"{name}(C)"]) if row else 0
        except (KeyError, ValueError):
            return 0

    ends: list[dict[str, str] | None] = []
    for k in range(count):
        if k == count - 1:
            ends.append(rows[-1] if rows else None)
            continue
        boundary = (k + 1) * interval + 0.5
        before = [row for row in rows if elapsed(row) <= boundary]
        ends.append(before[-1] if before else None)
    result = []
    previous: dict[str, str] | None = None
    for end in ends:
        result.append({name: value(end, name) - value(previous, name) for name in names})
        previous = end if end is not None else previous
    return result


def setup_times(paths: Sequence[Path], interval: float, count: int) -> list[list[float]]:
    """The response times (ms) of SIPp `-trace_rtt` files (`Date_ms;response_time_ms;rtd_no`,
    Date_ms since SIPp started), grouped by the interval in which each was measured."""
    groups: list[list[float]] = [[] for _ in range(count)]
    for path in paths:
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(";")
            if len(fields) < 2:
                continue
            k = min(int(float(fields[0]) / 1000 / interval), count - 1)
            groups[k].append(float(fields[1]))
    return groups


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0–1) of `values`; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class Minute:
    """One interval of a soak (a minute, except in `--smoke`)."""

    number: int
    attempted: int
    completed: int
    answered: int  # calls with a setup time: a 200 (under overload, `completed` also counts 503s)
    failed: int
    retransmissions: int
    setup_p50_ms: float
    setup_p99_ms: float
    core_share: float  # CPU seconds per second of the system under test
    us_per_call: float  # its CPU per call attempted in the interval
    memory_mb: float  # at the interval's end

    HEADER = (
        "  minute  attempted  completed  answered  failed  retrans  setup p50/p99 ms  "
        "CPU % core  µs/call  RSS MB"
    )

    def line(self) -> str:
        return (
            f"  {self.number:6}  {self.attempted:9}  {self.completed:9}  {self.answered:8}  "
            f"{self.failed:6}  "
            f"{self.retransmissions:7}  {self.setup_p50_ms:7.0f} /{self.setup_p99_ms:6.0f}  "
            f"{self.core_share * 100:10.1f}  {self.us_per_call:7.0f}  {self.memory_mb:6.1f}"
        )


def rss_flat(memory_mb: Sequence[float]) -> bool | None:
    """Whether the memory at the end of the last interval is within max(FLAT_MB, FLAT_SHARE)
    of its value at the end of interval 2; None (not judged) with fewer than 3 intervals."""
    if len(memory_mb) < 3:
        return None
    reference, last = memory_mb[1], memory_mb[-1]
    return last - reference <= max(FLAT_MB, FLAT_SHARE * reference)


@dataclass(frozen=True, slots=True)
class Verdict:
    held: bool
    reasons: tuple[str, ...]  # why not, when not held
    word: str = "HELD"  # what was judged: a rate held, or (the overload run) the node COPED

    def line(self) -> str:
        return self.word if self.held else f"NOT {self.word}: " + "; ".join(self.reasons)


def verdict(run: Run, minutes: Sequence[Minute]) -> Verdict:
    """Held: every call completed (caller, callee and, for the PBX, an `answered` record),
    retransmissions < 0.1 % of the calls, and flat memory (`rss_flat`)."""
    reasons = []
    if run.ok != run.calls or run.failed:
        reasons.append(f"{run.calls - run.ok} of {run.calls} calls failed or did not complete")
    if run.callee_ok != run.calls:
        reasons.append(f"the callee completed {run.callee_ok} of {run.calls}")
    if run.system == "pbx" and run.records.get("answered") != run.calls:
        reasons.append(f"records {run.records or 'missing'}, not {run.calls} answered")
    reasons.extend(retransmission_and_memory(run, minutes))
    return Verdict(not reasons, tuple(reasons))


def overload_verdict(run: Run, minutes: Sequence[Minute], limit: float, interval: float) -> Verdict:
    """Copes (`--overload`): no call failed or was cut off; every call the records show answered
    the callee completed, and no other; at least ANSWERED_SHARE of `limit` answered a second
    over the run; retransmissions < 0.1 % of the calls offered; flat memory."""
    reasons = []
    answered = run.records.get("answered", 0)
    if run.ok != run.calls or run.failed:
        reasons.append(f"{run.calls - run.ok} of {run.calls} calls failed or did not complete")
    if run.callee_ok != answered or set(run.records) != {"answered"}:
        reasons.append(f"the callee completed {run.callee_ok} calls, records {run.records}")
    carried = answered / (len(minutes) * interval) if minutes else 0.0
    if carried < ANSWERED_SHARE * limit:
        reasons.append(
            f"answered {carried:.0f} calls/s, under {100 * ANSWERED_SHARE:.0f} % of the limit "
            f"{limit:g}"
        )
    reasons.extend(retransmission_and_memory(run, minutes))
    return Verdict(not reasons, tuple(reasons), "COPED")


def retransmission_and_memory(run: Run, minutes: Sequence[Minute]) -> list[str]:
    """What both verdicts ask of a run beside its calls: retransmissions < 0.1 % of the calls,
    memory flat (`rss_flat`), and the run not cut off (`run.note`)."""
    reasons = []
    if run.retrans >= RETRANSMISSION_LIMIT * run.calls:
        reasons.append(
            f"{run.retrans} retransmissions = {100 * run.retrans / max(1, run.calls):.2f} % "
            f"of calls (limit {100 * RETRANSMISSION_LIMIT:.1f} %)"
        )
    flat = rss_flat([minute.memory_mb for minute in minutes])
    if flat is None:
        reasons.append("memory not judged: fewer than 3 minutes")
    elif not flat:
        reference, last = minutes[1].memory_mb, minutes[-1].memory_mb
        reasons.append(
            f"memory grew {reference:.0f} → {last:.0f} MB from minute 2 to the last "
            f"(allowed max({FLAT_MB:.0f} MB, {100 * FLAT_SHARE:.0f} %))"
        )
    if run.note:
        reasons.append(run.note)
    return reasons


# --------------------------------------------------------------------------- one soak


@dataclass
class Soak:
    run: Run
    minutes: list[Minute]
    verdict: Verdict
    interval_label: str = "1 min"

    @property
    def setup_samples(self) -> int:
        return sum(1 for m in self.minutes if not math.isnan(m.setup_p50_ms))

    def report(self) -> str:
        run = self.run
        setup = [m.setup_p99_ms for m in self.minutes if not math.isnan(m.setup_p99_ms)]
        return "\n".join(
            [
                Minute.HEADER,
                *(minute.line() for minute in self.minutes),
                f"  total: {run.calls} calls, {run.ok} completed, {run.failed} failed, "
                f"{run.retrans} retransmissions; worst minute's setup p99 "
                f"{max(setup, default=math.nan):.0f} ms; records {run.records or '-'}",
                f"  {run.system} at {run.rate} calls/s for {len(self.minutes)} × "
                f"{self.interval_label}: {self.verdict.line()}",
            ]
        )


def minutes_of(run: Run, system: System, interval: float, count: int) -> list[Minute]:
    """The run's per-interval figures from SIPp's files in `system.workdir` and `run.samples`."""
    workdir = system.workdir
    names = ("OutgoingCall", "SuccessfulCall", "FailedCall", "Retransmissions")
    caller = per_interval(stat_rows(workdir / "uac.csv"), names, interval, count)
    callee = per_interval(stat_rows(workdir / "uas.csv"), ("Retransmissions",), interval, count)
    setups = setup_times(sorted(workdir.glob("*_rtt.csv")), interval, count)
    at = {sample.mark: sample for sample in run.samples}
    minutes = []
    for k in range(count):
        start, end = at.get(k * interval), at.get((k + 1) * interval)
        attempted = caller[k]["OutgoingCall"]
        share = us = memory = math.nan
        if start and end and end.offset > start.offset:
            cpu = end.cpu - start.cpu
            share = cpu / (end.offset - start.offset)
            us = cpu / attempted * 1e6 if attempted else math.nan
        if end:
            memory = end.memory / MB
        minutes.append(
            Minute(
                k + 1,
                attempted,
                caller[k]["SuccessfulCall"],
                len(setups[k]),
                caller[k]["FailedCall"],
                caller[k]["Retransmissions"] + callee[k]["Retransmissions"],
                percentile(setups[k], 0.50),
                percentile(setups[k], 0.99),
                share,
                us,
                memory,
            )
        )
    return minutes


def soak(
    system_name: str,
    rate: int,
    count: int,
    interval: float,
    hold: int,
    postgres: str | None,
    limit: float = 0.0,
) -> Soak:
    """`count` intervals of `interval` s at `rate` through the PBX (or Kamailio); `limit` > 0 is
    the overload run (the node's `sip_max_call_rate`, judged by `overload_verdict`)."""
    duration = count * interval
    run = Run(system_name, rate, int(rate * duration))
    warmup = min(interval, duration / 3)
    # every call's setup time, written as each call gets its 200 (-rtt_freq 1: none is left
    # unwritten at the end, so the minutes' `answered` add up)
    rtt = ["-trace_rtt", "-rtt_freq", "1"]
    system_cm = (
        pbx_node(postgres, f"soak{rate}", limit) if system_name == "pbx" else kamailio_proxy()
    )
    with system_cm as system:
        drive(run, system, duration, warmup, hold, every=interval, caller_extra=rtt)
        minutes = minutes_of(run, system, interval, count)
    run.records = system.records
    label = "1 min" if interval == MINUTE else f"{interval:g} s"
    judged = overload_verdict(run, minutes, limit, interval) if limit > 0 else verdict(run, minutes)
    return Soak(run, minutes, judged, label)


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=None, help="calls per second (default 100)")
    parser.add_argument("--minutes", type=int, default=10, help="how long to hold it (default 10)")
    parser.add_argument(
        "--ladder", type=int, nargs="+", metavar="RATE", help="soak each rate; print the rating"
    )
    parser.add_argument("--hold", type=int, default=1000, help="call hold time, ms")
    parser.add_argument(
        "--overload",
        type=float,
        metavar="LIMIT",
        help="the overload run: the node limited to LIMIT new calls/s, offered --rate "
        "(default 1.5 × LIMIT)",
    )
    add_postgres_option(parser)
    parser.add_argument("--smoke", action="store_true", help="3 × 2 s at 20 calls/s, each system")
    parser.add_argument("--interval", type=float, default=MINUTE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# {machine()}", flush=True)
    if args.smoke:
        print(
            "# smoke: 3 intervals of 2 s at 20 calls/s, the PBX then Kamailio; then 30 calls/s "
            "offered to the PBX limited to 20",
            flush=True,
        )
        soaks = [soak(name, 20, 3, 2.0, args.hold, args.postgres) for name in ("pbx", "kamailio")]
        limited = soak("pbx", 30, 3, 2.0, args.hold, args.postgres, limit=20)
        for each in (*soaks, limited):
            print(each.report(), flush=True)
        # the machinery works: every call completed, setup times were read for every interval;
        # under the limit some calls were refused and the rest answered, none failed
        run, answered = limited.run, limited.run.records.get("answered", 0)
        refused_some = run.ok == run.calls and not run.failed and 0 < answered < run.calls
        normal = all(s.run.passed and s.setup_samples == 3 for s in soaks)
        return 0 if normal and refused_some and run.callee_ok == answered else 1
    if args.overload:
        return overload(args, database)
    rates = args.ladder or [args.rate or 100]
    print(
        f"# soak: {args.minutes} × {args.interval:g} s per rate, calls held {args.hold} ms, "
        f"node on {database}; rates {rates}" + (" until one is not held" if args.ladder else ""),
        flush=True,
    )
    held: list[Soak] = []
    for rate in rates:
        result = soak("pbx", rate, args.minutes, args.interval, args.hold, args.postgres)
        print(result.report(), flush=True)
        if not result.verdict.held:
            break
        held.append(result)
    if not args.ladder:
        return 0 if held else 1
    rating = held[-1].run.rate if held else None
    anchor_rate = rating or rates[0]
    print(f"# Kamailio 5.6 (tm proxy) at {anchor_rate} calls/s, the same soak", flush=True)
    anchor = soak("kamailio", anchor_rate, args.minutes, args.interval, args.hold, None)
    print(anchor.report(), flush=True)
    print(
        f"\nsustained rating ({database}, {args.minutes} × {args.interval:g} s): "
        f"{rating if rating else 'none'} calls/s held (0 failed, retransmissions "
        f"< {100 * RETRANSMISSION_LIMIT:.1f} %, flat memory); Kamailio at {anchor_rate}: "
        f"{anchor.verdict.line()}",
        flush=True,
    )
    return 0


def overload(args: argparse.Namespace, database: str) -> int:
    """`--overload LIMIT`: one soak of `--rate` (default 1.5 × LIMIT) offered to a node whose
    overload control admits LIMIT new calls a second."""
    offered = args.rate or round(1.5 * args.overload)
    print(
        f"# overload: {args.minutes} × {args.interval:g} s, {offered} calls/s offered to a node "
        f"limited to {args.overload:g} (sip_max_call_rate), calls held {args.hold} ms, node on "
        f"{database}",
        flush=True,
    )
    result = soak(
        "pbx", offered, args.minutes, args.interval, args.hold, args.postgres, args.overload
    )
    answered = result.run.records.get("answered", 0)
    print(result.report(), flush=True)
    print(
        f"  refused with 503: {result.run.calls - answered} of {result.run.calls} offered; "
        f"answered {answered / (len(result.minutes) * args.interval):.0f} calls/s",
        flush=True,
    )
    return 0 if result.verdict.held else 1


if __name__ == "__main__":
    sys.exit(main())
