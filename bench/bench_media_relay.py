#!/usr/bin/env python3
"""Relay benchmark: bridged G.711 calls through zongji.media, beside the anchors.

Each call is two legs. A load generator (this process) plays both phones of every call: each leg
sends a 20 ms G.711 packet every 20 ms (staggered over the 20 ms, as real phones are) and counts
what arrives on the other leg. The send time is written into the first 8 bytes of the payload,
which a same-codec relay passes through untouched, so every packet's one-way latency is measured
in this one process on one clock.

Configurations, all with the same load and measured the same way (CPU from /proc/<pid>/stat):
- direct: the legs send straight to each other, no relay: the baseline latency of the
  generator and the loopback interface, subtracted to get the latency a relay *adds*;
- bare socket relay: a few lines of uvloop written for this benchmark that forward each
  datagram to the other leg and do nothing else — the ceiling for a relay in Python here;
- zongji.media: `LocalMediaServer` with `connect()`ed endpoints (validation, latching, SSRC
  and header rewrite, statistics) in its own process;
- rtpengine: Debian's rtpengine-daemon in userspace mode (`--table=-1`), driven over its ng
  control protocol, if it is installed.

    python bench/bench_media_relay.py            # 100, 250 and 400 calls, 10 s each
    python bench/bench_media_relay.py --smoke    # 25 calls, 1.5 s: CI's check that it runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

HOST = "127.0.0.1"
PTIME = 0.020
_HDR = struct.Struct("!BBHII")
_STAMP = struct.Struct("!Q")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


# --- the load generator: both phones of every call ----------------------------------------------


class Leg(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: Any = None
        self.target: tuple[str, int] = (HOST, 9)
        self.ssrc = int.from_bytes(os.urandom(4), "big")
        self.seq = 0
        self.sent = 0
        self.received = 0
        self.arrived = 0  # every RTP packet, whether or not it carries our send stamp
        self.latencies: list[int] = []
        self.window_start = 0
        self.window_end = 1 << 62
        self.filler = b"\xff" * 152

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 20 or data[1] >= 192:
            return  # RTCP from a relay
        self.arrived += 1
        stamp = _STAMP.unpack_from(data, 12)[0]
        if self.window_start <= stamp < self.window_end:
            self.received += 1
            self.latencies.append(time.monotonic_ns() - stamp)

    def send(self) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        now = time.monotonic_ns()
        packet = _HDR.pack(0x80, 0, self.seq, self.seq * 160, self.ssrc) + _STAMP.pack(now)
        self.transport.sendto(packet + self.filler, self.target)
        if self.window_start <= now < self.window_end:
            self.sent += 1

    @property
    def addr(self) -> tuple[str, int]:
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port


async def open_legs(n: int) -> list[Leg]:
    loop = asyncio.get_running_loop()
    legs = []
    for _ in range(n):
        _, leg = await loop.create_datagram_endpoint(Leg, local_addr=(HOST, 0))
        legs.append(leg)
    return legs


async def drive(legs: list[Leg], seconds: float, stop: asyncio.Event) -> None:
    """Send one packet per leg per 20 ms, staggered over 1 ms slots, on absolute deadlines."""
    slots: list[list[Leg]] = [[] for _ in range(20)]
    for i, leg in enumerate(legs):
        slots[i % 20].append(leg)
    start = time.monotonic()
    k = 0
    while not stop.is_set() and time.monotonic() - start < seconds:
        for leg in slots[k % 20]:
            leg.send()
        k += 1
        delay = start + k * 0.001 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Result:
    name: str
    calls: int
    seconds: float
    sent: int
    received: int
    cpu: float | None
    p50_ms: float
    p99_ms: float
    note: str = ""

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 0.0

    @property
    def packets_per_cpu_second(self) -> float | None:
        return self.received / self.cpu if self.cpu else None


async def measure(
    name: str, legs: list[Leg], calls: int, seconds: float, pid: int | None, note: str = ""
) -> Result:
    stop = asyncio.Event()
    warmup = 1.0
    sender = asyncio.create_task(drive(legs, warmup + seconds + 0.05, stop))
    await asyncio.sleep(warmup)
    window = time.monotonic_ns()
    for leg in legs:
        leg.window_start, leg.sent, leg.received, leg.latencies = window, 0, 0, []
    cpu0 = cpu_seconds(pid) if pid else 0.0
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (cpu_seconds(pid) - cpu0) if pid else None
    elapsed = time.monotonic() - t0
    window_end = time.monotonic_ns()
    for leg in legs:
        leg.window_end = window_end  # packets sent from now on are not counted
    stop.set()
    await sender
    await asyncio.sleep(0.3)  # in flight
    lat = np.concatenate([np.array(leg.latencies, dtype=np.float64) for leg in legs]) / 1e6
    return Result(
        name,
        calls,
        elapsed,
        sum(leg.sent for leg in legs),
        sum(leg.received for leg in legs),
        cpu,
        float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        note,
    )


# --- relays in child processes ------------------------------------------------------------------


class Child:
    """A relay process driven over stdin/stdout with one JSON line each way."""

    def __init__(self, mode: str, script: str = __file__) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, script, "--serve", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, message: Any) -> Any:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


class BareLeg(asyncio.DatagramProtocol):
    """The whole of the bare relay: forward every datagram to the other leg's phone."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.peer: BareLeg | None = None
        self.phone: tuple[str, int] = (HOST, 9)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        peer = self.peer
        if peer is not None:
            peer.transport.sendto(data, peer.phone)


async def serve(mode: str) -> None:
    """Child side: read the phones' addresses, set the relay up, answer, wait for EOF."""
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    request = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    pairs = [(tuple(a), tuple(b)) for a, b in request["phones"]]
    answer: list[list[Any]] = []
    media = None
    if mode == "ours":
        from zongji.media import EndpointSpec, LocalMediaServer

        media = LocalMediaServer(host=HOST, port_min=0)
        await media.start()
        for phone_a, phone_b in pairs:
            a = await media.create_endpoint(EndpointSpec(remote=phone_a, rtcp_mux=True))
            b = await media.create_endpoint(EndpointSpec(remote=phone_b, rtcp_mux=True))
            await media.connect(a.id, b.id)
            answer.append([a.local, b.local])
    else:
        for phone_a, phone_b in pairs:
            legs = []
            for phone in (phone_a, phone_b):
                _, leg = await loop.create_datagram_endpoint(BareLeg, local_addr=(HOST, 0))
                leg.phone = phone
                legs.append(leg)
            legs[0].peer, legs[1].peer = legs[1], legs[0]
            answer.append([leg.transport.get_extra_info("sockname")[:2] for leg in legs])
    sys.stdout.write(json.dumps({"relay": answer}) + "\n")
    sys.stdout.flush()
    await loop.run_in_executor(None, sys.stdin.readline)  # EOF: the benchmark is over
    if media is not None:
        await media.close()


# --- rtpengine, over its ng protocol ------------------------------------------------------------


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    items = sorted(value.items())
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"


def bdecode(data: bytes, at: int = 0) -> tuple[Any, int]:
    c = data[at : at + 1]
    if c == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1 : end]), end + 1
    if c in (b"l", b"d"):
        at += 1
        items = []
        while data[at : at + 1] != b"e":
            v, at = bdecode(data, at)
            items.append(v)
        if c == b"l":
            return items, at + 1
        return {items[i].decode(): items[i + 1] for i in range(0, len(items), 2)}, at + 1
    colon = data.index(b":", at)
    n = int(data[at:colon])
    return data[colon + 1 : colon + 1 + n], colon + 1 + n


class Rtpengine:
    def __init__(self, calls: int) -> None:
        self.binary = shutil.which("rtpengine")
        self.proc: subprocess.Popen[bytes] | None = None
        self.calls = calls
        self.error = ""

    def start(self) -> bool:
        if self.binary is None:
            self.error = "rtpengine-daemon is not installed (apt-get install rtpengine-daemon)"
            return False
        self.ng = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ng.bind((HOST, 0))
        ng_port = self._free_udp_port()
        lo = self._free_range(4 * self.calls + 8)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as the daemon
        self.proc = subprocess.Popen(
            [
                self.binary, "--foreground", "--table=-1", f"--interface={HOST}",
                f"--listen-ng={HOST}:{ng_port}", f"--port-min={lo}",
                f"--port-max={lo + 4 * self.calls + 7}", "--log-stderr", "--log-level=3",
                "--num-threads=1", "--delete-delay=0",
            ],
            stdout=self.log,
            stderr=self.log,
        )  # fmt: skip
        self.ng_addr = (HOST, ng_port)
        for _ in range(50):
            try:
                self.command({"command": "ping"}, timeout=0.2)
                return True
            except OSError:
                if self.proc.poll() is not None:
                    break
        self.log.seek(0)
        self.error = "rtpengine did not start: " + self.log.read().decode()[-300:]
        self.stop()
        return False

    @staticmethod
    def _free_udp_port() -> int:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        s.close()
        return port

    @staticmethod
    def _free_range(width: int) -> int:
        import random

        for _ in range(100):
            base = random.randrange(30000, 60000 - width) & ~1
            socks = []
            try:
                for p in range(base, base + width):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.bind((HOST, p))
                return base
            except OSError:
                continue
            finally:
                for s in socks:
                    s.close()
        raise RuntimeError("no free port range for rtpengine")

    def command(self, body: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
        cookie = os.urandom(6).hex().encode()
        self.ng.settimeout(timeout)
        self.ng.sendto(cookie + b" " + bencode(body), self.ng_addr)
        data = self.ng.recv(65536)
        reply, _ = bdecode(data[data.index(b" ") + 1 :])
        if reply.get("result") not in (b"ok", b"pong"):
            raise OSError(f"rtpengine: {reply}")
        return dict(reply)

    @staticmethod
    def _sdp(addr: tuple[str, int]) -> str:
        host, port = addr
        return (
            f"v=0\r\no=- 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        )

    def bridge(self, i: int, phone_a: tuple[str, int], phone_b: tuple[str, int]) -> list[Any]:
        call = {"call-id": f"bench-{i}", "from-tag": f"a{i}"}
        offer = self.command({"command": "offer", "sdp": self._sdp(phone_a), **call})
        answer = self.command(
            {"command": "answer", "sdp": self._sdp(phone_b), "to-tag": f"b{i}", **call}
        )
        port_for_b = int(re.search(rb"m=audio (\d+)", offer["sdp"]).group(1))  # type: ignore[union-attr]
        port_for_a = int(re.search(rb"m=audio (\d+)", answer["sdp"]).group(1))  # type: ignore[union-attr]
        return [[HOST, port_for_a], [HOST, port_for_b]]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self.log.close()
            self.ng.close()


# --- the benchmark --------------------------------------------------------------------------


async def run_one(name: str, calls: int, seconds: float) -> Result:
    legs = await open_legs(2 * calls)
    pairs = [(legs[2 * i], legs[2 * i + 1]) for i in range(calls)]
    phones = [[a.addr, b.addr] for a, b in pairs]
    child: Child | None = None
    engine: Rtpengine | None = None
    pid: int | None = None
    try:
        if name == "direct":
            relay = [[b.addr, a.addr] for a, b in pairs]
        elif name == "rtpengine":
            engine = Rtpengine(calls)
            if not engine.start():
                return Result(name, calls, 0, 0, 0, None, float("nan"), float("nan"), engine.error)
            relay = [engine.bridge(i, *phone) for i, phone in enumerate(phones)]
            assert engine.proc is not None
            pid = engine.proc.pid
        else:
            child = Child(name)
            relay = child.ask({"phones": phones})["relay"]
            pid = child.proc.pid
        for (a, b), (to_a, to_b) in zip(pairs, relay, strict=True):
            a.target, b.target = tuple(to_a), tuple(to_b)
        return await measure(name, legs, calls, seconds, pid)
    finally:
        for leg in legs:
            leg.transport.close()
        if child is not None:
            child.close()
        if engine is not None:
            engine.stop()


LABELS = {
    "direct": "direct, no relay (baseline)",
    "bare": "bare socket relay (ceiling)",
    "ours": "zongji.media relay",
    "rtpengine": "rtpengine userspace (anchor)",
}


def report(results: Sequence[Result]) -> None:
    base = {r.calls: r for r in results if r.name == "direct"}
    print(
        f"{'':32} {'calls':>5} {'pkts/s':>7} {'pkts/CPU-s':>10} {'calls/core':>10} "
        f"{'relay CPU':>9} {'loss':>7} {'p50 ms':>7} {'p99 ms':>7} {'+p99 ms':>7}"
    )
    for r in results:
        if r.note:
            print(f"{LABELS[r.name]:32} {r.calls:5}  -- {r.note}")
            continue
        ppc = r.packets_per_cpu_second
        b = base.get(r.calls)
        added = r.p99_ms - b.p99_ms if b is not None and r.name != "direct" else float("nan")
        print(
            f"{LABELS[r.name]:32} {r.calls:5} {r.received / r.seconds:7.0f} "
            f"{ppc if ppc else float('nan'):10.0f} "
            f"{(ppc / 100) if ppc else float('nan'):10.0f} "
            f"{(r.cpu / r.seconds * 100) if r.cpu is not None else float('nan'):8.1f}% "
            f"{r.loss * 100:6.3f}% {r.p50_ms:7.3f} {r.p99_ms:7.3f} {added:7.3f}"
        )


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    calls_list = [25] if args.smoke else args.calls
    seconds = 1.5 if args.smoke else args.seconds
    print(f"relay benchmark on {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    print(
        f"each call: 2 legs x 50 packets/s of 20 ms PCMU; {seconds} s measured per row; "
        "calls/core = packets per CPU-second / 100"
    )
    results = []
    for calls in calls_list:
        for name in ("direct", "bare", "ours", "rtpengine"):
            results.append(await run_one(name, calls, seconds))
    report(results)
    print(f"load average {os.getloadavg()[0]:.2f} at end (2 cores shared with other work)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 250, 400])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", choices=["ours", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uvloop.run(serve(args.serve))
    else:
        uvloop.run(main(args))
