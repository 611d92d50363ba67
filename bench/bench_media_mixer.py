#!/usr/bin/env python3
"""Mixer benchmark: CPU per conference participant, and the clock's lateness while mixing.

1. The mixing arithmetic alone (`ConferenceMixer.mix`, numpy), per tick, for conferences of
   3, 20 and 100 members.
2. The whole engine in its own process: 10 conferences of 20 participants (200 endpoints), every
   participant sending a 20 ms G.711 frame every 20 ms from the load generator of
   `bench_media_relay.py`, and receiving its mix. Reported: the engine's CPU per participant
   (receive, jitter buffer, decode, mix, speaking detection, encode, send) and the p99 lateness
   of its 20 ms clock.

    python bench/bench_media_mixer.py            # 10 x 20 participants, 10 s
    python bench/bench_media_mixer.py --smoke    # 2 x 5 participants, 1.5 s
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from bench_media_relay import (
    HOST,
    Child,
    cpu_seconds,
    drive,
    machine,
    open_legs,
    raise_fd_limit,
)
from zongji.media.g711 import Codec, encode
from zongji.media.mixer import ConferenceMixer


def mixing_arithmetic(sizes: list[int], ticks: int) -> None:
    print("mixing arithmetic alone (ConferenceMixer.mix):")
    rng = np.random.default_rng(1)
    for n in sizes:
        mixer = ConferenceMixer()
        for i in range(n):
            mixer.add(f"m{i}")
        frames = list(rng.integers(-3000, 3000, size=(n, 160)).astype(np.int16))
        t = time.process_time()
        for _ in range(ticks):
            mixer.mix(frames)
        per_tick = (time.process_time() - t) / ticks * 1e6
        print(
            f"  {n:3} members: {per_tick:7.1f} us per tick, {per_tick / n:5.2f} us per member, "
            f"{per_tick * 50 / 1e4:5.2f}% of a core per conference"
        )


async def serve(conferences: int, members: int) -> None:
    """Child side: conferences of endpoints; answers 'reset' and 'stats' for the clock."""
    from zongji.media import EndpointSpec, LocalMediaServer, MediaClock

    raise_fd_limit()
    loop = asyncio.get_running_loop()
    request = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    phones = [tuple(p[0]) for p in request["phones"]]
    media = LocalMediaServer(host=HOST, port_min=0)
    await media.start()
    locals_ = []
    for c in range(conferences):
        conf = await media.create_conference()
        for m in range(members):
            phone = phones[c * members + m]
            ep = await media.create_endpoint(EndpointSpec(remote=phone, rtcp_mux=True))
            await media.add_member(conf, ep.id)
            locals_.append([ep.local, ep.local])
    sys.stdout.write(json.dumps({"relay": locals_}) + "\n")
    sys.stdout.flush()
    assert isinstance(media.clock, MediaClock)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if json.loads(line)["cmd"] == "reset":
            media.clock.reset_stats()
            sys.stdout.write("{}\n")
        else:
            sys.stdout.write(json.dumps(dataclasses.asdict(media.clock.stats())) + "\n")
        sys.stdout.flush()
    await media.close()


async def whole_engine(conferences: int, members: int, seconds: float) -> None:
    n = conferences * members
    legs = await open_legs(n)
    t = np.arange(160 * 50) / 8000
    for i, leg in enumerate(legs):
        # each participant speaks a different tone (the stamp bytes at the start are noise)
        leg.filler = encode(Codec.PCMU, (3000 * np.sin(2 * np.pi * (300 + 37 * i) * t))[:152])
    child = Child(f"{conferences}x{members}", __file__)
    try:
        relay = child.ask({"phones": [[leg.addr, leg.addr] for leg in legs]})["relay"]
        for leg, (to, _) in zip(legs, relay, strict=True):
            leg.target = tuple(to)
        stop = asyncio.Event()
        sender = asyncio.create_task(drive(legs, 1.0 + seconds + 0.1, stop))
        await asyncio.sleep(1.0)
        child.ask({"cmd": "reset"})
        for leg in legs:
            leg.arrived = 0
        cpu0, t0 = cpu_seconds(child.proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, elapsed = cpu_seconds(child.proc.pid) - cpu0, time.monotonic() - t0
        clock = child.ask({"cmd": "stats"})
        received = sum(leg.arrived for leg in legs)
        stop.set()
        await sender
    finally:
        for leg in legs:
            leg.transport.close()
        child.close()
    share = cpu / elapsed
    print(f"whole engine: {conferences} conferences x {members} participants ({n} endpoints):")
    print(
        f"  engine CPU {share * 100:.1f}% of a core; {share / n * 100:.3f}% of a core per "
        f"participant ({share / n * 1e6 / 50:.1f} us per participant per tick); "
        f"{int(1 / (share / n)) if share else 0} participants per core"
    )
    print(
        f"  mixes received {received / elapsed:.0f}/s of {n * 50} expected; clock lateness "
        f"p50 {clock['late_p50_ms']:.2f} ms, p99 {clock['late_p99_ms']:.2f} ms, "
        f"max {clock['late_max_ms']:.2f} ms; tick work p99 {clock['work_p99_ms']:.2f} ms; "
        f"skipped ticks {clock['skipped']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    parser.add_argument("--conferences", type=int, default=10)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        conferences, members = map(int, args.serve.split("x"))
        uvloop.run(serve(conferences, members))
        return
    raise_fd_limit()
    print(f"mixer benchmark on {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    if args.smoke:
        mixing_arithmetic([3, 20], 200)
        uvloop.run(whole_engine(2, 5, 1.5))
    else:
        mixing_arithmetic([3, 20, 100], 5000)
        uvloop.run(whole_engine(args.conferences, args.members, args.seconds))
    print(f"load average {os.getloadavg()[0]:.2f} at end (2 cores shared with other work)")


if __name__ == "__main__":
    main()
