"""SIP call rate: SIPp against a UAS built on zongji.sip, and against Kamailio answering alike.

Both systems under test run pinned to CPU 1 and answer every INVITE with 180, then 200 with an
SDP answer and a Contact; they take the ACK and answer BYE with 200 (as the harness's uas.xml
does). The shared harness (`../shared/bench/sip/bench.py`, mode `ext-uas`) drives each one the
same way from CPU 0 with SIPp and meters CPU per call from /proc. Printed side by side:
pass/clean per rate, SUT CPU per call (steady state) and the ratio, and the highest rate at
which our UAS had 0 failed calls.

    python bench/bench_sip_calls.py            # full: a ladder of rates, then 3 runs at the aim
    python bench/bench_sip_calls.py --smoke    # one short run per system (CI)

The UAS is this file itself, started as `python bench/bench_sip_calls.py --serve PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / ".." / "shared" / "bench" / "sip" / "bench.py"
KAMAILIO_CFG = ROOT / "bench" / "sip" / "kamailio-uas.cfg"
AIM = 400  # calls/s the issue asks for, on one core

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


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_bound(port: int) -> bool:
    suffix = f":{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1].endswith(suffix) for line in table.readlines()[1:])


def wait_bound(port: int, timeout: float = 30.0) -> None:
    end = time.time() + timeout
    while not udp_bound(port):
        if time.time() > end:
            raise RuntimeError(f"nothing bound UDP port {port}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def children_of(pid: int) -> list[int]:
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        result.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return result


@dataclass
class Result:
    rate: int
    passed: int
    clean: int
    runs: int
    us_per_call: float
    load: float
    lines: list[str]

    @property
    def all_passed(self) -> bool:
        return self.passed == self.runs


RESULT_RE = re.compile(
    r"RESULT ext-uas rate=(\d+): pass (\d+)/(\d+), clean (\d+)/\d+; "
    r"median SUT CPU ([\d.na]+) us/call.*?SUT core load (\d+|nan)%"
)


def harness(
    port: int, pids: list[int], rates: list[int], runs: int, extra: list[str]
) -> list[Result]:
    command = [
        sys.executable, str(HARNESS), "ext-uas", "--port", str(port),
        "--sut-pid", ",".join(map(str, pids)), "--rate", *map(str, rates), "--runs", str(runs),
        "--stop-on-fail", *extra,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    results = []
    runs_seen: list[str] = []
    for line in output.stdout.splitlines():
        print("    " + line, flush=True)
        if line.strip().startswith("run "):
            runs_seen.append(line)
        match = RESULT_RE.search(line)
        if match:
            rate, passed, total, clean, us, load = match.groups()
            results.append(Result(int(rate), int(passed), int(clean), int(total),
                                  float(us), float(load) if load != "nan" else float("nan"),
                                  runs_seen))  # fmt: skip
            runs_seen = []
    if output.returncode not in (0, 1) or not results:
        print(output.stderr[-2000:], file=sys.stderr)
    return results


def run_ours(rates: list[int], runs: int, extra: list[str]) -> list[Result]:
    port = free_udp_port()
    process = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_bound(port)
        return harness(port, [process.pid], rates, runs, extra)
    finally:
        stop(process)


def run_kamailio(rates: list[int], runs: int, extra: list[str]) -> list[Result]:
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
        return harness(port, pids, rates, runs, extra)
    finally:
        stop(process)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?"
        )
    return f"{model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"


def describe(result: Result) -> str:
    """'3/3 pass, 3/3 clean, 512.0 us/call' (clean: also no retransmission, no drop)."""
    return (
        f"{result.passed}/{result.runs} pass, {result.clean}/{result.runs} clean, "
        f"{result.us_per_call:6.1f} us/call"
    )


def side_by_side(ours: dict[int, Result], theirs: dict[int, Result]) -> None:
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
    if not HARNESS.exists():
        print(f"missing the shared SIP harness at {HARNESS}", file=sys.stderr)
        return 2
    print(f"# {machine()}")
    if args.smoke:
        short = ["--duration", "8", "--warmup", "3", "--ramp", "0"]
        print("# smoke: 1 run of 8 s at 50 calls/s per system")
        ours = {r.rate: r for r in run_ours([50], 1, short)}
        theirs = {r.rate: r for r in run_kamailio([50], 1, short)}
        side_by_side(ours, theirs)
        return 0 if ours and all(r.all_passed for r in ours.values()) else 1
    print(f"# zongji.sip UAS: a ladder of 1 run per rate, up to the first failure: {args.ladder}")
    ours = {r.rate: r for r in run_ours(args.ladder, 1, [])}
    print(f"# zongji.sip UAS: {args.runs} runs at {AIM} calls/s (the medians replace the ladder's)")
    ours.update({r.rate: r for r in run_ours([AIM], args.runs, [])})
    passed = [rate for rate, r in ours.items() if r.all_passed and rate != AIM]
    print(f"# Kamailio: {args.runs} runs at {AIM} calls/s, 1 run at each rate we passed: {passed}")
    theirs = {r.rate: r for r in run_kamailio([AIM], args.runs, [])}
    if passed:
        theirs.update({r.rate: r for r in run_kamailio(passed, 1, [])})
    side_by_side(ours, theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
