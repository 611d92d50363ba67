"""SIP call rate: SIPp against a UAS built on zongji.sip, and against Kamailio answering alike.

Both systems under test run pinned to CPU 1 and answer every INVITE with 180, then 200 with an
SDP answer and a Contact; they take the ACK and answer BYE with 200. The same driver
(`bench/sip_load.py`, SIPp with `bench/sip/caller.xml` from CPU 0) calls each one the same way and
meters CPU per call from /proc in the steady window. Printed side by side, from the same
invocation: pass/clean per rate, SUT CPU per call and the ratio, and the highest rate at which
our UAS had 0 failed calls.

    python bench/bench_sip_calls.py            # full: a ladder of rates, then 3 runs at the aim
    python bench/bench_sip_calls.py --smoke    # one short run per system (CI)

The UAS is this file itself, started as `python bench/bench_sip_calls.py --serve PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sip_load import (
    RateResult,
    Timing,
    children_of,
    free_udp_port,
    ladder,
    machine,
    stop,
    wait_bound,
)

ROOT = Path(__file__).resolve().parents[1]
KAMAILIO_CFG = ROOT / "bench" / "sip" / "kamailio-uas.cfg"
AIM = 400  # calls/s the issue asks for, on one core
FULL = Timing()  # 25 s of calls, 3 s ramp, 1 s hold, steady window from 10 s
SMOKE = Timing(seconds=8.0, warmup=3.0, ramp=0)  # one short run of 400 calls at 50 calls/s

SDP_ANSWER = (
    b"v=0\r\no=zongji 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# --------------------------------------------------------------------------- the UAS


def serve(port: int) -> None:
    """Run the UAS on 127.0.0.1:`port` until SIGTERM."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass

    from zongji.sip.ua import IncomingCall, IncomingRequest, UserAgent

    async def main() -> None:
        ua = UserAgent(user_agent=None, max_ring_time=0)
        await ua.listen("udp", "127.0.0.1", port)

        def on_request(incoming: IncomingRequest) -> None:
            if isinstance(incoming, IncomingCall):
                incoming.ring()
                incoming.answer(SDP_ANSWER)
            else:
                incoming.respond(200)

        ua.on_request = on_request
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        await ua.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- driving


def run_ours(rates: list[int], runs: int, timing: Timing = FULL) -> list[RateResult]:
    port = free_udp_port()
    process = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_bound(port)
        return ladder(port, [process.pid], rates, runs, timing)
    finally:
        stop(process)


def run_kamailio(rates: list[int], runs: int, timing: Timing = FULL) -> list[RateResult]:
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    port = free_udp_port()
    workdir = tempfile.mkdtemp(prefix="kamailio-uas.")
    log = open(os.path.join(workdir, "kamailio.log"), "w")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        ["taskset", "-c", "1", kamailio, "-f", str(KAMAILIO_CFG), "-DD", "-E",
         "-l", f"udp:127.0.0.1:{port}", "-m", "256", "-M", "8", "-x", "tlsf", "-X", "tlsf",
         "-w", workdir, "-P", os.path.join(workdir, "kamailio.pid")],
        stdout=subprocess.DEVNULL, stderr=log, cwd=workdir,
    )  # fmt: skip
    try:
        wait_bound(port, 60)
        time.sleep(1.0)  # let the children start
        pids = [process.pid, *children_of(process.pid)]
        return ladder(port, pids, rates, runs, timing)
    finally:
        stop(process)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def describe(result: RateResult) -> str:
    """'3/3 pass, 3/3 clean, 512.0 us/call' (clean: also no retransmission, no drop)."""
    return (
        f"{result.passed}/{len(result.runs)} pass, {result.clean}/{len(result.runs)} clean, "
        f"{result.us_per_call:6.1f} us/call"
    )


def side_by_side(ours: dict[int, RateResult], theirs: dict[int, RateResult]) -> None:
    print()
    print(f"{'rate':>6}  {'zongji.sip UAS':>38}  {'Kamailio 5.6 (sl) UAS':>38}  {'CPU ratio':>9}")
    for rate in sorted(ours):
        result = ours[rate]
        mine = describe(result)
        other = theirs.get(rate)
        if other is None:
            print(f"{rate:>6}  {mine:>38}  {'-':>38}")
            continue
        them = describe(other)
        ratio = result.us_per_call / other.us_per_call if other.us_per_call else float("nan")
        print(f"{rate:>6}  {mine:>38}  {them:>38}  {ratio:8.1f}x")
    best = max((r.rate for r in ours.values() if r.all_passed), default=None)
    print(
        f"\nhighest rate with 0 failed calls in every run, zongji.sip UAS: {best} calls/s "
        f"(aim {AIM}); us/call = SUT CPU (utime+stime) per call in the steady window; "
        "SUT pinned to CPU 1, SIPp to CPU 0"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help="run the UAS (used internally)")
    parser.add_argument("--smoke", action="store_true", help="one short run per system")
    parser.add_argument("--ladder", type=int, nargs="+", default=[400, 800, 1200, 1600, 2000, 2500])
    parser.add_argument("--runs", type=int, default=3, help="runs at the aim rate (median)")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    print(f"# {machine()}")
    if args.smoke:
        print("# smoke: 1 run of 8 s at 50 calls/s per system")
        print("# zongji.sip UAS")
        ours = {r.rate: r for r in run_ours([50], 1, SMOKE)}
        print("# Kamailio")
        theirs = {r.rate: r for r in run_kamailio([50], 1, SMOKE)}
        side_by_side(ours, theirs)
        return 0 if ours and all(r.all_passed for r in ours.values()) else 1
    print(f"# zongji.sip UAS: a ladder of 1 run per rate, up to the first failure: {args.ladder}")
    ours = {r.rate: r for r in run_ours(args.ladder, 1)}
    print(f"# zongji.sip UAS: {args.runs} runs at {AIM} calls/s (the medians replace the ladder's)")
    ours.update({r.rate: r for r in run_ours([AIM], args.runs)})
    passed = [rate for rate, r in ours.items() if r.all_passed and rate != AIM]
    print(f"# Kamailio: {args.runs} runs at {AIM} calls/s, 1 run at each rate we passed: {passed}")
    theirs = {r.rate: r for r in run_kamailio([AIM], args.runs)}
    if passed:
        theirs.update({r.rate: r for r in run_kamailio(passed, 1)})
    side_by_side(ours, theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
