"""SIPp call load against a system under test, metered from /proc: the SIP benchmarks' driver.

One run places `rate × seconds` calls with SIPp (`bench/sip/caller.xml`: INVITE, 200, ACK, hold,
BYE, 200), pinned to CPU 0, at a SIP server on 127.0.0.1 that the benchmark started itself
(pinned to CPU 1) and names by its process ids. While the calls run it reads the CPU time
(utime + stime, /proc/PID/stat) of the system under test and of SIPp at two marks, `warmup` and
`seconds` after the first call: between them the load is steady, so CPU per call there is the
figure to compare between systems at the same rate (start-up and the last calls' tails are
outside it). It also takes the whole run's figure, and counts the kernel's UDP receive-buffer
drops (`RcvbufErrors` in /proc/net/snmp) over the run.

A run **passes** when every call placed succeeded and none failed; it is **clean** when it also
needed no SIPp retransmission and the kernel dropped no datagram. Nothing here knows what the
system under test is: the same run drives our UAS and Kamailio, so their figures come from the
same method on the same machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALLER = HERE / "sip" / "caller.xml"
CALLEE = HERE / "sip" / "callee.xml"
HOST = "127.0.0.1"
GENERATOR_CPU = 0
#: SIPp's socket buffers (SO_RCVBUF/SO_SNDBUF); the kernel caps them at net.core.rmem_max.
SIPP_BUFFER = 8 * 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")
NAN = float("nan")


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the processes (all their threads), in seconds; 0 for one that is gone."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return ticks / TICKS


def resident_bytes(pids: Sequence[int]) -> int:
    """The memory the processes hold, in bytes; 0 for one that is gone. One process: its
    resident set (VmRSS, /proc/PID/status). Several (Kamailio's main process and workers, which
    share one shared-memory pool): the sum of their proportional set sizes (Pss,
    /proc/PID/smaps_rollup), so a page every worker maps counts once, not once per worker."""
    if len(pids) == 1:
        return _proc_field(f"/proc/{pids[0]}/status", "VmRSS:")
    return sum(_proc_field(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)


def _proc_field(path: str, name: str) -> int:
    """A `name: N kB` line of a /proc file, in bytes; 0 when the file or the line is missing."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children_of(pid: int) -> list[int]:
    """The direct children of `pid` (Kamailio's workers are children of its main process)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def udp_receive_drops() -> int:
    """The kernel's count of UDP datagrams dropped because a socket's receive buffer was full."""
    with open("/proc/net/snmp") as snmp:
        rows = [line.split() for line in snmp if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["RcvbufErrors"])


def udp_bound(port: int) -> bool:
    suffix = f":{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1].endswith(suffix) for line in table.readlines()[1:])


def wait_bound(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not udp_bound(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing bound UDP port {port} within {timeout:.0f} s")
        time.sleep(0.05)


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM a process this benchmark started; SIGKILL it if it has not gone after `grace`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        model = next(
            (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?"
        )
    return f"{model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"


# --------------------------------------------------------------------------- SIPp


def sipp_binary() -> str:
    return shutil.which("sipp") or "/usr/bin/sipp"


def sipp_statistics(path: Path) -> dict[str, str]:
    """The last row of a SIPp `-trace_stat` file (the final counters) by column name."""
    if not path.exists():
        return {}
    rows = [row.split(";") for row in path.read_text().splitlines() if row.strip()]
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def counter(stats: dict[str, str], name: str) -> int:
    try:
        return int(stats.get(name, "0") or 0)
    except ValueError:
        return 0


def rate_options(rate: int, ramp: int) -> list[str]:
    """SIPp's rate options: `rate` at once, or reached in `ramp` one-second steps."""
    if ramp <= 0:
        return ["-r", str(rate)]
    step = -(-rate // (ramp + 1))
    return [
        "-r", str(step), "-rate_increase", str(step), "-rate_interval", "1s",
        "-rate_max", str(rate), "-no_rate_quit",
    ]  # fmt: skip


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True, slots=True)
class Timing:
    """The shape of a run: calls arrive for `seconds` (reaching the rate in `ramp` one-second
    steps), each is held `hold_ms`; CPU is metered from `warmup` to `seconds` after the first."""

    seconds: float = 25.0
    warmup: float = 10.0
    ramp: int = 3
    hold_ms: int = 1000

    def __post_init__(self) -> None:
        if not self.ramp < self.warmup <= self.seconds - 2:
            raise ValueError("the steady window needs ramp < warmup <= seconds - 2")


@dataclass(frozen=True, slots=True)
class Load:
    """What one run offers: `rate` new calls per second, shaped by `timing`."""

    rate: int
    timing: Timing = field(default_factory=Timing)

    @property
    def calls(self) -> int:
        return int(self.rate * self.timing.seconds)


@dataclass(slots=True)
class Run:
    """One run's outcome; CPU figures are µs per call of the system under test (`sut`) and of
    the SIPp caller (`generator`), and the share of one core each used in the steady window."""

    load: Load
    ok: int = 0
    failed: int = 0
    retransmissions: int = 0
    receive_drops: int = 0
    sut_us: float = NAN
    sut_us_whole_run: float = NAN
    sut_load: float = NAN
    generator_us: float = NAN
    generator_load: float = NAN
    wall: float = 0.0
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.ok == self.load.calls and self.failed == 0

    @property
    def clean(self) -> bool:
        return self.passed and self.retransmissions == 0 and self.receive_drops == 0

    def line(self) -> str:
        verdict = "CLEAN" if self.clean else "PASS" if self.passed else "FAIL"
        return (
            f"{verdict} rate={self.load.rate} calls={self.load.calls} ok={self.ok} "
            f"failed={self.failed} retrans={self.retransmissions} "
            f"rcvbuf_drops={self.receive_drops} wall={self.wall:.1f}s | SUT {self.sut_us:.1f} "
            f"us/call steady ({self.sut_us_whole_run:.1f} whole run), load "
            f"{self.sut_load * 100:.0f}% | SIPp {self.generator_us:.1f} us/call, load "
            f"{self.generator_load * 100:.0f}%{' ' + self.note if self.note else ''}"
        )


def place_calls(
    port: int,
    sut_pids: Sequence[int],
    load: Load,
    *,
    scenario: Path = CALLER,
    extra: Sequence[str] = (),
) -> Run:
    """One run: SIPp on CPU 0 calls 127.0.0.1:`port`; `sut_pids` are metered."""
    run = Run(load)
    timing = load.timing
    limit = timing.seconds + timing.ramp + timing.hold_ms / 1000 + 30  # bounds a collapsing run
    workdir = Path(tempfile.mkdtemp(prefix="sip-load."))
    stats_file = workdir / "caller.csv"
    try:
        drops_before = udp_receive_drops()
        sut_before = cpu_seconds(sut_pids)
        started = time.monotonic()
        caller = subprocess.Popen(
            ["taskset", "-c", str(GENERATOR_CPU), sipp_binary(), "-sf", str(scenario),
             f"{HOST}:{port}", "-i", HOST, "-p", str(free_udp_port()), "-nostdin",
             "-buff_size", str(SIPP_BUFFER), "-m", str(load.calls), "-d", str(timing.hold_ms),
             *rate_options(load.rate, timing.ramp), "-timeout", f"{limit:.0f}s",
             "-trace_stat", "-stf", str(stats_file), "-fd", "1",
             "-trace_err", "-error_file", str(workdir / "caller.err"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
        )  # fmt: skip
        marks = [started + timing.warmup, started + timing.seconds]
        window: list[tuple[float, float, float]] = []  # (time, SUT CPU s, SIPp CPU s)
        while caller.poll() is None and time.monotonic() < started + limit + 5:
            if marks and time.monotonic() >= marks[0]:
                marks.pop(0)
                window.append((time.monotonic(), cpu_seconds(sut_pids), cpu_seconds([caller.pid])))
            time.sleep(0.05)
        if caller.poll() is None:
            run.note = "(SIPp cut off at its deadline)"
            stop(caller)
        run.wall = time.monotonic() - started
        sut_whole = cpu_seconds(sut_pids) - sut_before
        run.receive_drops = udp_receive_drops() - drops_before
        stats = sipp_statistics(stats_file)
        run.ok = counter(stats, "SuccessfulCall(C)")
        run.failed = counter(stats, "FailedCall(C)")
        run.retransmissions = counter(stats, "Retransmissions(C)")
        run.sut_us_whole_run = sut_whole / max(1, run.ok) * 1e6
        if len(window) == 2 and window[1][0] > window[0][0]:
            span = window[1][0] - window[0][0]
            steady_calls = load.rate * span
            run.sut_us = (window[1][1] - window[0][1]) / steady_calls * 1e6
            run.sut_load = (window[1][1] - window[0][1]) / span
            run.generator_us = (window[1][2] - window[0][2]) / steady_calls * 1e6
            run.generator_load = (window[1][2] - window[0][2]) / span
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return run


# --------------------------------------------------------------------------- several runs


@dataclass(slots=True)
class RateResult:
    """Every run at one rate, and their medians."""

    rate: int
    runs: list[Run] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(run.passed for run in self.runs)

    @property
    def clean(self) -> int:
        return sum(run.clean for run in self.runs)

    @property
    def all_passed(self) -> bool:
        return bool(self.runs) and self.passed == len(self.runs)

    @property
    def us_per_call(self) -> float:
        """Median steady-state CPU per call of the system under test."""
        return statistics.median(run.sut_us for run in self.runs) if self.runs else NAN

    @property
    def load(self) -> float:
        return statistics.median(run.sut_load for run in self.runs) if self.runs else NAN

    def line(self) -> str:
        return (
            f"rate={self.rate}: pass {self.passed}/{len(self.runs)}, clean {self.clean}/"
            f"{len(self.runs)}; median SUT CPU {self.us_per_call:.1f} us/call steady, "
            f"core load {self.load * 100:.0f}%"
        )


def ladder(
    port: int,
    sut_pids: Sequence[int],
    rates: Sequence[int],
    runs: int,
    timing: Timing | None = None,
    *,
    indent: str = "    ",
) -> list[RateResult]:
    """`runs` runs at each rate in turn, printing each; stops after the first rate at which a
    run failed (the rates above it would fail too, and only load the shared machine)."""
    results = []
    for rate in rates:
        result = RateResult(rate)
        for number in range(1, runs + 1):
            run = place_calls(port, sut_pids, Load(rate, timing or Timing()))
            result.runs.append(run)
            print(f"{indent}run {number}: {run.line()}", flush=True)
        print(f"{indent}{result.line()}", flush=True)
        results.append(result)
        if not result.all_passed:
            break
    return results
