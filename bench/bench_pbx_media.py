#!/usr/bin/env python3
"""Concurrent anchored calls through the PBX, with G.711 media held for a minute, without loss.

Every call is a real call through a running PBX node (its own process, pinned to CPU 1): the
caller's INVITE is challenged and authenticated (MD5 Digest), the engine classifies it, passes
the outbound policy, forks it to the callee's registered device, anchors the media on two
endpoints bridged in the media engine, and writes the call record. The load generator (this
process, CPU 0) plays both phones of every call with the relay benchmark's legs
(`bench_media_relay.Leg`): each side sends a 20 ms PCMU packet every 20 ms, staggered, with its
send time in the payload, and counts what arrives from the other side through the PBX.

A row passes when every call was answered, not one packet was lost in the measured window
(both directions of every call), and every call left an `answered` record. Figures: packets/s
through the node, the node's CPU (SIP + media + records: utime+stime from /proc), one-way latency
p50/p99 phone to phone through the PBX.

    python bench/bench_pbx_media.py                 # 100, 250, 500 calls, 60 s of media each
    python bench/bench_pbx_media.py --smoke         # 10 calls, 2 s (CI's check that it runs)
    python bench/bench_pbx_media.py --calls 500 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_media_relay import (  # noqa: E402
    HOST,
    Leg,
    machine,
    measure,
    open_legs,
    raise_fd_limit,
)

AIM = 500  # concurrent calls the issue asks for

# --------------------------------------------------------------------------- the PBX node


def serve(workdir: Path, database_url: str) -> None:
    """The node's PBX on a free port, a bench enterprise (8001 calls, 8002 answers, voicemail
    off), `ready.json` with the port and credentials; on SIGTERM `records.json` and stop."""
    import logging

    logging.basicConfig(level=logging.ERROR)

    from collections import Counter

    from zongji.directory.schemas import EnterpriseCreate
    from zongji.directory.user_schemas import UserCreate
    from zongji.pbx.calls.component import PbxComponent
    from zongji.platform.actor import SYSTEM
    from zongji.platform.clock import SystemClock
    from zongji.platform.config import Settings
    from zongji.platform.migrate import upgrade
    from zongji.services import build_services

    async def main() -> None:
        await upgrade(database_url)
        settings = Settings(
            database_url=database_url,
            data_dir=workdir / "data",
            secret_key="bench-secret-key-" + "x" * 32,  # type: ignore[arg-type]
            node_name="bench",
            sip_port=0,
            rtp_port_min=30000,
            rtp_port_max=39999,
            media_timeout=0,
            ring_timeout=30.0,
            sip_source_rate=1_000_000.0,  # one generator places every call
            sip_source_burst=1_000_000.0,
            log_level="ERROR",
        )
        services = build_services(settings, clock=SystemClock())
        ent = await services.enterprises.create(
            SYSTEM, EnterpriseCreate(code="bench", name="bench 公司", area_code="025", city="南京")
        )
        users = {}
        for ext, mobile in (("8001", "13800000001"), ("8002", "13800000002")):
            user = await services.users.create(
                SYSTEM, ent.id, UserCreate(name=f"用户{ext}", mobile=mobile, extension=ext)
            )
            await services.pbx.voicemail.mailbox.set_enabled(ent.id, user.id, False)
            issued = await services.pbx.credentials.issue(SYSTEM, ent.id, user.id)
            users[ext] = {"username": issued.username, "password": issued.password}
        component = PbxComponent(services)
        ports = await component.start()
        (workdir / "ready.json").write_text(
            json.dumps({"port": ports["udp"], "domain": ent.sip_domain, "users": users})
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        # the generator has hung up every call: wait for the engine to finish them
        engine = component.engine
        for _ in range(200):
            if engine is None or not engine.calls:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the last records
        records = await services.pbx.records.all_for(ent.id, limit=100_000)
        statuses = Counter(str(r.status) if r.status else "live" for r in records)
        (workdir / "records.json").write_text(json.dumps(dict(statuses)))
        await component.stop()
        await services.close()

    uvloop.run(main())


# --------------------------------------------------------------------------- the phones


class Phones:
    """Both phones of every call: a caller UA (device of 8001) and the callee's registered
    device (8002), each call leg with its own RTP socket (a `Leg` of the relay benchmark)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.domain: str = info["domain"]
        self.calls: list[tuple[Leg, Leg, Any]] = []  # caller leg, callee leg, caller dialog
        self._free_callee_legs: list[Leg] = []

    async def start(self, n: int) -> None:
        from zongji.sip.auth.client import Credentials
        from zongji.sip.network import HostPort, TransportKind
        from zongji.sip.transport.base import Destination
        from zongji.sip.ua.core import UserAgent

        self.node = Destination(TransportKind.UDP, HostPort(HOST, self.info["port"]))
        self.caller = UserAgent(local_user="caller", max_ring_time=0)
        await self.caller.listen("udp", HOST, 0)
        self.callee = UserAgent(local_user="callee")
        await self.callee.listen("udp", HOST, 0)
        self.callee.on_request = self._answer
        callee = self.info["users"]["8002"]
        caller = self.info["users"]["8001"]
        self.caller_credentials = Credentials(caller["username"], caller["password"])
        self._caller_user = caller["username"]
        registration = self.callee.registration(
            f"sip:{self.domain}",
            f"sip:{callee['username']}@{self.domain}",
            credentials=Credentials(callee["username"], callee["password"]),
            expires=3600,
            destination=self.node,
        )
        response = await registration.register()
        if response.status != 200:
            raise RuntimeError(f"the callee could not register: {response.status}")
        self._free_callee_legs = await open_legs(n)
        self._caller_legs = await open_legs(n)

    def _answer(self, incoming: Any) -> None:
        from zongji.sip.offer_answer import LocalMedia, SdpSession
        from zongji.sip.sdp import parse_sdp
        from zongji.sip.ua.requests import IncomingCall

        if not isinstance(incoming, IncomingCall):
            incoming.respond(200)
            return
        leg = self._free_callee_legs.pop()
        session = SdpSession(LocalMedia(*leg.addr))
        answer, negotiated = session.answer(parse_sdp(incoming.offer))
        assert negotiated is not None
        assert negotiated.remote_address is not None
        leg.target = (negotiated.remote_address, negotiated.remote_port)
        incoming.answer(answer.encode())
        self._answered_legs.append(leg)

    async def place(self, n: int, rate: float) -> int:
        """Place `n` calls at `rate` per second; returns how many were answered."""
        from zongji.sip.offer_answer import LocalMedia, SdpSession
        from zongji.sip.sdp import parse_sdp

        self._answered_legs: list[Leg] = []

        async def one(i: int) -> bool:
            leg = self._caller_legs[i]
            session = SdpSession(LocalMedia(*leg.addr))
            try:
                call = await self.caller.invite(
                    f"sip:8002@{self.domain}",
                    from_=f"sip:{self._caller_user}@{self.domain}",
                    body=session.offer().encode(),
                    destination=self.node,
                    credentials=self.caller_credentials,
                )
                dialog = await call.answered()
            except Exception as error:
                print(f"    call {i} failed: {error}", file=sys.stderr)
                return False
            assert call.final_response is not None
            negotiated = session.accept_answer(parse_sdp(call.final_response.body))
            assert negotiated is not None
            assert negotiated.remote_address is not None
            leg.target = (negotiated.remote_address, negotiated.remote_port)
            self.calls.append((leg, None, dialog))  # type: ignore[arg-type]
            return True

        tasks = []
        for i in range(n):
            tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.sleep(1 / rate)
        results = await asyncio.gather(*tasks)
        return sum(results)

    def legs(self) -> list[Leg]:
        return [c[0] for c in self.calls] + list(self._answered_legs)

    async def hang_up(self) -> None:
        await asyncio.gather(*(c[2].bye() for c in self.calls), return_exceptions=True)

    async def close(self) -> None:
        for leg in self._caller_legs + self._free_callee_legs + self._answered_legs:
            leg.transport.close()
        await self.caller.close()
        await self.callee.close()


# --------------------------------------------------------------------------- one row


def start_node(workdir: Path, url: str) -> subprocess.Popen[bytes]:
    """The PBX node in its own process on CPU 1 (`--serve`)."""
    return subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, str(Path(__file__).resolve()),
         "--serve", str(workdir), "--database-url", url],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "node.err", "w"),
    )  # fmt: skip


async def run(calls: int, seconds: float, rate: float, database_url: str | None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pbx-media."))
    url = database_url or f"sqlite+aiosqlite:///{workdir / 'zongji.db'}"
    node = start_node(workdir, url)
    row: dict[str, Any] = {"calls": calls, "seconds": seconds}
    phones: Phones | None = None
    try:
        ready = workdir / "ready.json"
        deadline = time.time() + 120
        while not ready.exists():
            if node.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"the node did not start: {(workdir / 'node.err').read_text()}")
            await asyncio.sleep(0.1)
        phones = Phones(json.loads(ready.read_text()))
        await phones.start(calls)
        setup = time.monotonic()
        row["answered"] = await phones.place(calls, rate)
        row["setup_s"] = time.monotonic() - setup
        legs = phones.legs()
        result = await measure("pbx", legs, calls, seconds, node.pid)
        row.update(
            sent=result.sent,
            received=result.received,
            lost=result.sent - result.received,
            pps=result.received / result.seconds,
            node_cpu=(result.cpu or 0.0) / result.seconds * 100,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
        )
        await phones.hang_up()
        await asyncio.sleep(1.0)
    finally:
        if phones is not None:
            await phones.close()
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
    records_file = workdir / "records.json"
    row["records"] = json.loads(records_file.read_text()) if records_file.exists() else {}
    row["passed"] = (
        row.get("answered") == calls
        and row.get("lost") == 0
        and row["records"].get("answered") == calls
    )
    return row


def line(row: dict[str, Any]) -> str:
    verdict = "PASS" if row["passed"] else "FAIL"
    if "pps" not in row:
        return f"  {row['calls']:4} calls  {verdict}  answered={row.get('answered')}"
    return (
        f"  {row['calls']:4} calls  {verdict}  answered={row['answered']} "
        f"(setup {row['setup_s']:.1f}s)  media {row['seconds']:.0f}s: sent={row['sent']} "
        f"lost={row['lost']}  {row['pps']:.0f} pkts/s  node CPU {row['node_cpu']:.0f}% of a "
        f"core  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms  records={row['records']}"
    )


async def main(args: argparse.Namespace) -> int:
    raise_fd_limit()
    os.sched_setaffinity(0, {0})
    counts = [10] if args.smoke else args.calls
    seconds = 2.0 if args.smoke else args.seconds
    print(f"PBX media benchmark on {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    print(
        f"each call: INVITE with Digest through the PBX, media anchored, 2 x 50 PCMU packets/s; "
        f"{seconds:.0f} s of media measured per row; node on CPU 1, phones on CPU 0"
    )
    rows = []
    for n in counts:
        row = await run(n, seconds, args.rate, args.database_url)
        rows.append(row)
        print(line(row), flush=True)
    best = max((r["calls"] for r in rows if r["passed"]), default=0)
    print(f"most concurrent calls with 0 loss: {best} (aim {AIM})")
    print(f"load average {os.getloadavg()[0]:.2f} at end (2 cores shared with other work)")
    return 0 if all(r["passed"] for r in rows) or not args.smoke else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--smoke", action="store_true", help="10 calls, 2 s")
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--seconds", type=float, default=60.0, help="media per row")
    parser.add_argument("--rate", type=float, default=50.0, help="call setups per second")
    arguments = parser.parse_args()
    if arguments.serve:
        serve(Path(arguments.serve), arguments.database_url)
    else:
        sys.exit(uvloop.run(main(arguments)))
