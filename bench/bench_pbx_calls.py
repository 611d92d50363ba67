"""Calls per second through the PBX, beside Kamailio 5.6 as a stateful proxy routing the same calls.

The PBX layout is a real node's call path: SIPp, as a phone, calls extension 8002 through the PBX
(INVITE, 407, ACK, INVITE with MD5 Digest — every device call is authenticated), the PBX
classifies the call, forks it to the callee's registered contact (SIPp with the SIP anchor's
callee scenario, after registering its device credential with Digest), anchors the media on
two RTP endpoints bridged in the media engine, writes the call record (opened, answered,
closed: the live-call journal and the record), and carries the BYE across. Every call is held 1 s.
The callee is SIPp with `bench/sip/callee.xml` in both layouts.

The Kamailio layout routes the same calls (SIPp with `bench/sip/caller.xml` → Kamailio tm proxy
with record-routing → the same SIPp callee): a stateful proxy does far less than a B2BUA (no
authentication, no media, no records), so the figure is the anchor for how much SIP work a call
costs, not a like-for-like comparison.

The PBX (or Kamailio) is pinned to CPU 1, both SIPp processes to CPU 0; CPU per call of the system
under test is utime+stime from /proc in the steady window. A rate passes when every call
succeeded on the caller and on the callee (and, for the PBX, every call left an `answered`
record).

    python bench/bench_pbx_calls.py            # a ladder of rates, then Kamailio at the same ones
    python bench/bench_pbx_calls.py --smoke    # one short run of each (a few seconds)

The PBX node is this file itself, started as `python bench/bench_pbx_calls.py --serve DIR PORT`.
Everything binds free ports on 127.0.0.1; the node's database is a temporary SQLite file, or a
fresh database on a PostgreSQL server (`--postgres ADMIN_URL`), dropped after each run.
`BENCH_PBX_PROFILE=path` runs the node under cProfile.
`soak_pbx.py` drives the same node and phones (`pbx_node`, `kamailio_proxy`, `drive`) for
minutes at one rate: the sustained rating.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sip_load import (
    children_of,
    counter,
    cpu_seconds,
    free_udp_port,
    machine,
    resident_bytes,
    sipp_statistics,
    stop,
    udp_bound,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench" / "pbx"
# the benchmarks' own SIPp phones (bench/sip/): the callee echoes Record-Route and requires the
# ACK, and both layouts use it; the plain caller (no Digest) places the Kamailio layout's calls
CALLEE = ROOT / "bench" / "sip" / "callee.xml"
PLAIN_CALLER = ROOT / "bench" / "sip" / "caller.xml"
AIM = 500  # calls/s the issue asks for
KEEP = "--keep" in sys.argv  # keep each run's directory (SIPp stats and errors, the node's log)


# --------------------------------------------------------------------------- the PBX node


def serve(workdir: Path, port: int, database_url: str, max_call_rate: float = 0.0) -> None:
    """Run the node's PBX on 127.0.0.1:`port`, provision a bench enterprise, write `ready.json`;
    on SIGTERM stop and write `records.json` (the calls' records by status). `max_call_rate` is
    the node's overload limit (`sip_max_call_rate`; 0, the default, none)."""
    import asyncio
    import logging

    import uvloop

    logging.basicConfig(level=logging.ERROR)
    uvloop.install()

    from zongji.directory.schemas import EnterpriseCreate
    from zongji.directory.user_schemas import UserCreate
    from zongji.pbx.calls.component import PbxComponent, PbxComponentDeps
    from zongji.platform.actor import SYSTEM
    from zongji.platform.clock import SystemClock
    from zongji.platform.config import Settings
    from zongji.platform.heap import settle_after_start
    from zongji.platform.migrate import upgrade
    from zongji.services import build_services

    async def main() -> None:
        await upgrade(database_url)
        settings = Settings(
            database_url=database_url,
            data_dir=workdir / "data",
            secret_key="bench-secret-key-" + "x" * 32,  # type: ignore[arg-type]
            node_name="bench",
            sip_port=port,
            rtp_port_min=30000,
            rtp_port_max=39999,
            media_timeout=0,
            # one SIPp source places every call: lift the per-source flood limit
            sip_source_rate=1_000_000.0,
            sip_source_burst=1_000_000.0,
            sip_max_call_rate=max_call_rate,
            log_level="ERROR",
        )
        services = build_services(settings, clock=SystemClock())
        ent = await services.directory.enterprises.create(
            SYSTEM,
            EnterpriseCreate(code="bench", name="bench 公司", area_code="025", city="南京"),
        )
        users = {}
        for ext, mobile in (("8001", "13800000001"), ("8002", "13800000002")):
            user = await services.directory.users.create(
                SYSTEM, ent.id, UserCreate(name=f"用户{ext}", mobile=mobile, extension=ext)
            )
            await services.pbx.voicemail.mailbox.set_enabled(ent.id, user.id, False)
            issued = await services.pbx.credentials.issue(SYSTEM, ent.id, user.id)
            users[ext] = {"username": issued.username, "password": issued.password}
        component = PbxComponent(PbxComponentDeps(services.settings, services.clock, services.pbx))
        ports = await component.start()
        settle_after_start()  # as `Node.start` does at its end
        (workdir / "ready.json").write_text(
            json.dumps({"port": ports["udp"], "domain": ent.sip_domain, "users": users})
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        # the last calls' records: until every call is closed and nothing changes for 2 s
        statuses: Counter[str] = Counter()
        deadline = loop.time() + 60
        while loop.time() < deadline:
            await asyncio.sleep(2.0)
            records = await services.pbx.records.all_for(ent.id, limit=10_000_000)
            now = Counter(str(r.status) if r.status else "live" for r in records)
            if now == statuses and "live" not in now:
                break
            statuses = now
        (workdir / "records.json").write_text(json.dumps(dict(statuses)))
        await component.stop()
        await services.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- processes


def wait_until(check: Any, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while not check():
        if time.time() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sipp(cpu: int, workdir: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    sipp_bin = shutil.which("sipp") or "/usr/bin/sipp"
    command = [
        "taskset", "-c", str(cpu), sipp_bin, *args, "-i", "127.0.0.1", "-nostdin",
        "-trace_stat", "-stf", str(workdir / f"{name}.csv"), "-fd", "1",
        "-trace_err", "-error_file", str(workdir / f"{name}.err"),
    ]  # fmt: skip
    if KEEP:
        command += ["-trace_msg", "-message_file", str(workdir / f"{name}.msg")]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir
    )


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True, slots=True)
class Sample:
    """The system under test at `offset` seconds after the first call (`mark` is when it was
    due; the loop polls every 50 ms): its CPU time so far (utime + stime, s) and its resident
    memory (bytes; `sip_load.resident_bytes`)."""

    mark: float
    offset: float
    cpu: float
    memory: int


@dataclass
class Run:
    system: str
    rate: int
    calls: int
    ok: int = 0
    failed: int = 0
    callee_ok: int = 0
    retrans: int = 0
    records: dict[str, int] = field(default_factory=dict)
    us_per_call: float = float("nan")
    load: float = float("nan")
    wall: float = 0.0
    note: str = ""
    samples: list[Sample] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        answered = self.records.get("answered", self.calls) if self.system == "pbx" else self.calls
        return (
            self.ok == self.calls
            and self.failed == 0
            and self.callee_ok == self.calls
            and answered == self.calls
        )

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        records = f" records={self.records}" if self.records else ""
        return (
            f"  {self.system:8} rate={self.rate:4} {verdict} calls={self.calls} ok={self.ok} "
            f"failed={self.failed} callee_ok={self.callee_ok} retrans={self.retrans}{records} | "
            f"SUT {self.us_per_call:7.0f} us/call steady, core load {self.load:3.0f}% | "
            f"wall {self.wall:.1f}s {self.note}"
        )


@dataclass
class System:
    """A started system under test, ready for `drive`: SIPp's caller sends to `port` with
    `uac_args` (scenario and its fields), the callee listens on `uas_port` (for the PBX it is
    registered there), `pids` are metered. `records` is the PBX node's records by status, known
    once the node has stopped (the end of `pbx_node`'s block)."""

    name: str
    workdir: Path
    port: int
    uas_port: int
    pids: list[int]
    uac_args: list[str]
    records: dict[str, int] = field(default_factory=dict)


def drive(
    run: Run,
    system: System,
    duration: float,
    warmup: float,
    hold: int,
    *,
    every: float = 0.0,
    caller_extra: Sequence[str] = (),
) -> None:
    """The callee (SIPp uas, CPU 0) and the caller (CPU 0) at `run.rate`; meters the SUT at
    `warmup` and `duration` (the steady window) and, when `every` > 0, at every multiple of it
    (`run.samples`: the soak's per-minute figures). SIPp's files stay in `system.workdir`."""
    workdir = system.workdir
    limit = duration + hold / 1000 + 40
    uas = sipp(
        0, workdir, "uas", "-sf", str(CALLEE), "-p", str(system.uas_port),
        "-mp", str(free_udp_port()), "-m", str(run.calls), "-timeout", f"{limit:.0f}s",
    )  # fmt: skip
    offsets = {warmup, duration}
    if every > 0:
        offsets |= {every * k for k in range(int(duration // every) + 1)}
    try:
        wait_until(lambda: udp_bound(system.uas_port), 10, "the callee's port")
        t0 = time.time()
        uac = sipp(
            0, workdir, "uac", *system.uac_args, *caller_extra, f"127.0.0.1:{system.port}",
            "-p", str(free_udp_port()), "-mp", str(free_udp_port()), "-m", str(run.calls),
            "-r", str(run.rate), "-d", str(hold), "-timeout", f"{limit:.0f}s",
        )  # fmt: skip
        marks = sorted(offsets)
        while uac.poll() is None and time.time() < t0 + limit + 5:
            if marks and time.time() >= t0 + marks[0]:
                cpu, memory = cpu_seconds(system.pids), resident_bytes(system.pids)
                run.samples.append(Sample(marks[0], time.time() - t0, cpu, memory))
                marks.pop(0)
            time.sleep(0.05)
        if uac.poll() is None:
            run.note = "caller cut off at its deadline"
            stop(uac)
        run.wall = time.time() - t0
        with contextlib.suppress(subprocess.TimeoutExpired):
            uas.wait(timeout=10)  # it exits by itself after its calls
    finally:
        stop(uas)
    window = [s for s in run.samples if s.mark in (warmup, duration)]
    if len(window) == 2 and window[1].offset > window[0].offset:
        seconds = window[1].offset - window[0].offset
        cpu = window[1].cpu - window[0].cpu
        run.us_per_call = cpu / (seconds * run.rate) * 1e6
        run.load = 100 * cpu / seconds
    caller, callee = sipp_statistics(workdir / "uac.csv"), sipp_statistics(workdir / "uas.csv")
    run.ok = counter(caller, "SuccessfulCall(C)")
    run.failed = counter(caller, "FailedCall(C)")
    run.callee_ok = counter(callee, "SuccessfulCall(C)")
    run.retrans = counter(caller, "Retransmissions(C)") + counter(callee, "Retransmissions(C)")


def _postgres(admin_url: str, statement: str) -> None:
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def run() -> None:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def pbx_node(postgres: str | None, tag: str, max_call_rate: float = 0.0) -> Iterator[System]:
    """A PBX node with its callee registered; the node's database is a fresh SQLite file, or a
    fresh database (named after `tag`) made on the PostgreSQL server of `postgres` (an admin
    URL) and dropped afterwards. `max_call_rate` > 0 turns on the node's overload control at
    that many new calls a second (the caller's scenario takes a 503 as the call's end)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-pbx."))
    port = free_udp_port()
    url = f"sqlite+aiosqlite:///{workdir / 'zongji.db'}"
    if postgres:
        name = f"bench_pbx_calls_{os.getpid()}_{tag}"
        _postgres(postgres, f'CREATE DATABASE "{name}"')
        url = f"{postgres.rpartition('/')[0]}/{name}"
    profile = os.environ.get("BENCH_PBX_PROFILE")  # a path: cProfile the node into it
    python = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    node = subprocess.Popen(
        ["taskset", "-c", "1", *python, str(Path(__file__).resolve()),
         "--serve", str(workdir), str(port), "--database-url", url,
         "--max-call-rate", str(max_call_rate)],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "node.err", "w"),  # noqa: SIM115
    )  # fmt: skip
    system = System("pbx", workdir, port, free_udp_port(), [node.pid], [])
    try:
        ready = workdir / "ready.json"
        wait_until(lambda: ready.exists() or node.poll() is not None, 120, "the PBX node")
        if not ready.exists():
            raise RuntimeError(f"the PBX node died: {(workdir / 'node.err').read_text()[-2000:]}")
        info = json.loads(ready.read_text())
        domain, caller, callee = info["domain"], info["users"]["8001"], info["users"]["8002"]
        auth = "[authentication username={username} password={password}]"
        (workdir / "register.csv").write_text(
            f"SEQUENTIAL\n{callee['username']};{domain};{auth.format(**callee)}\n"
        )
        (workdir / "caller.csv").write_text(
            f"SEQUENTIAL\n{caller['username']};8002;{domain};{auth.format(**caller)}\n"
        )
        register = sipp(
            0, workdir, "register", "-sf", str(HERE / "register.xml"),
            "-inf", str(workdir / "register.csv"), "-auth_uri", domain,
            f"127.0.0.1:{port}", "-p", str(system.uas_port),
            "-m", "1", "-timeout", "20s",
        )  # fmt: skip
        if register.wait(30) != 0:
            raise RuntimeError(f"the callee did not register: {workdir / 'register.err'}")
        system.uac_args = [
            "-sf", str(HERE / "caller.xml"), "-inf", str(workdir / "caller.csv"),
            "-auth_uri", f"8002@{domain}",
        ]  # fmt: skip
        yield system
    finally:
        stop(node, grace=90.0)  # it waits for the last records first
        records = workdir / "records.json"
        if records.exists():
            system.records = json.loads(records.read_text())
        if postgres:
            _postgres(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not KEEP:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def kamailio_proxy() -> Iterator[System]:
    """Kamailio as a stateful proxy (record-routing) to the callee's port."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-kamailio."))
    port, uas_port = free_udp_port(), free_udp_port()
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    log = open(workdir / "kamailio.log", "w")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        ["taskset", "-c", "1", kamailio, "-f", str(HERE / "kamailio-proxy.cfg"), "-DD", "-E",
         "-l", f"udp:127.0.0.1:{port}", "-A", f'UAS_TARGET="sip:127.0.0.1:{uas_port}"',
         "-m", "512", "-M", "8", "-x", "tlsf", "-X", "tlsf",
         "-w", str(workdir), "-P", str(workdir / "kamailio.pid")],
        stdout=subprocess.DEVNULL, stderr=log, cwd=workdir,
    )  # fmt: skip
    try:
        wait_until(lambda: udp_bound(port), 60, "Kamailio")
        time.sleep(1.0)  # children started, shm pre-faulted
        pids = [process.pid, *children_of(process.pid)]
        yield System("kamailio", workdir, port, uas_port, pids, ["-sf", str(PLAIN_CALLER)])
    finally:
        stop(process)
        log.close()
        if not KEEP:
            shutil.rmtree(workdir, ignore_errors=True)


def run_pbx(rate: int, duration: float, warmup: float, hold: int, postgres: str | None) -> Run:
    """One run at `rate` on a fresh node (see `pbx_node`)."""
    run = Run("pbx", rate, int(rate * duration))
    with pbx_node(postgres, str(rate)) as system:
        drive(run, system, duration, warmup, hold)
    run.records = system.records
    return run


def run_kamailio(rate: int, duration: float, warmup: float, hold: int) -> Run:
    run = Run("kamailio", rate, int(rate * duration))
    with kamailio_proxy() as system:
        drive(run, system, duration, warmup, hold)
    return run


# --------------------------------------------------------------------------- main


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    """`--postgres ADMIN_URL`: the node's database on a PostgreSQL server (this bench's and the
    soak's)."""
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        default=None,
        help="run the node on a fresh database of this PostgreSQL server "
        "(postgresql+asyncpg://postgres@127.0.0.1:5432/postgres); default: a temporary SQLite file",
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None, help=argparse.SUPPRESS)  # --serve's
    parser.add_argument("--max-call-rate", type=float, default=0.0, help=argparse.SUPPRESS)
    add_postgres_option(parser)
    parser.add_argument("--smoke", action="store_true", help="one short run of each system")
    parser.add_argument("--ladder", type=int, nargs="+", default=[50, 100, 150, 200, 250, 300])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of call arrivals")
    parser.add_argument("--hold", type=int, default=1000, help="call hold time, ms")
    parser.add_argument("--keep", action="store_true", help="keep each run's directory")
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.database_url, args.max_call_rate)
        return 0
    print(f"# {machine()}", flush=True)
    if args.smoke:
        print("# smoke: 1 run of 4 s at 20 calls/s per system", flush=True)
        runs = [run_pbx(20, 4.0, 1.0, args.hold, args.postgres)]
        print(runs[0].line(), flush=True)
        runs.append(run_kamailio(20, 4.0, 1.0, args.hold))
        print(runs[1].line(), flush=True)
        return 0 if all(r.passed for r in runs) else 1
    warmup = min(5.0, args.duration / 3)
    print(f"# PBX: {args.duration:.0f} s of calls per rate, held {args.hold} ms; ladder "
          f"{args.ladder} until the first failure", flush=True)  # fmt: skip
    passed: list[Run] = []
    for rate in args.ladder:
        run = run_pbx(rate, args.duration, warmup, args.hold, args.postgres)
        print(run.line(), flush=True)
        if not run.passed:
            break
        passed.append(run)
    print("# Kamailio 5.6 (tm proxy) at the same rates", flush=True)
    for mine in passed or [Run("pbx", args.ladder[0], 0)]:
        theirs = run_kamailio(mine.rate, args.duration, warmup, args.hold)
        print(theirs.line(), flush=True)
    best = max((r.rate for r in passed), default=None)
    print(
        f"\nhighest rate with 0 failed calls through the PBX: {best} calls/s (aim {AIM}); "
        "us/call = SUT CPU (utime+stime) per call in the steady window; SUT on CPU 1, "
        "SIPp on CPU 0"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
