"""The registrar: registrations per second with Digest, and memory per registered device.

1. Registrations per second. The PBX's registrar runs in this process (uvloop, one core: the SIP
   front door as the node has it, guard then registrar) on a UDP port; SIPp, pinned to the other
   core when there are two, registers devices at a fixed rate: REGISTER, 401, REGISTER with MD5
   Digest, 200 (`bench/sip/register_digest.xml`). Each step registers every device once (new
   Call-ID each time, so the registrar does the whole work: domain, Digest, location update).
   Printed per step: registrations that succeeded, failed, the achieved rate, and the registrar's
   CPU time per registration (this process's user+system time over the step, which is the PBX
   alone: SIPp is another process). The guard's per-source rate limit is lifted for the run (all
   the load comes from one address, which a deployment never sees).
2. Memory per registered device, at 10,000 devices (`--devices`): after step 1 every device is
   registered; the figure is what the location service, the credential cache and the telephony
   view hold per device, measured with tracemalloc by building the same structures again, and
   the process RSS growth over the run as a cross-check.

Devices and users are written straight into the tables (bulk inserts; creating 10,000 users
through the directory's service would measure the directory). SQLite in a temporary directory.

    python bench/bench_pbx_register.py [--smoke] [--devices N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert

from zongji.directory.models import User
from zongji.directory.schemas import EnterpriseCreate
from zongji.pbx.devices.credentials import DeviceCredentials
from zongji.pbx.devices.models import SipCredential
from zongji.pbx.view import TelephonyDirectory
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import SystemClock
from zongji.platform.config import Settings
from zongji.platform.db import PLATFORM
from zongji.platform.events import InProcessBus
from zongji.platform.migrate import upgrade
from zongji.services import Services, build_services
from zongji.sip import DigestAlgorithm, IncomingRequest, UserAgent, compute_ha1

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "sip" / "register_digest.xml"
PASSWORD = "Bench-password-1234"


@dataclass
class Step:
    rate: int
    ok: int
    failed: int
    seconds: float
    cpu_us: float

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def provision(services: Services, devices: int) -> tuple[uuid.UUID, str, list[str]]:
    """One enterprise with `devices` users, one credential each (bulk inserts)."""
    ent = await services.directory.enterprises.create(
        SYSTEM, EnterpriseCreate(code="bench", name="Bench 公司", area_code="025", city="南京")
    )
    now = services.clock.now()
    realm = ent.sip_domain
    users = []
    creds = []
    names = []
    for n in range(devices):
        user_id = uuid.uuid4()
        username = f"{100000 + n}-bnch"
        names.append(username)
        users.append(
            {
                "id": user_id,
                "tenant_id": ent.id,
                "name": f"用户{n}",
                "mobile": f"+86139{n:08d}",
                "extension": str(100000 + n),
                "registered_at": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        creds.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": ent.id,
                "user_id": user_id,
                "kind": "softphone",
                "label": "",
                "username": username,
                "realm": realm,
                "ha1_md5": compute_ha1(DigestAlgorithm.MD5, username, realm, PASSWORD),
                "ha1_sha256": compute_ha1(DigestAlgorithm.SHA256, username, realm, PASSWORD),
                "created_at": now,
                "revoked_at": None,
                "last_registered_at": None,
            }
        )
    async with services.db.session(PLATFORM, write=True) as session, session.begin():
        for start in range(0, devices, 1000):
            await session.execute(insert(User), users[start : start + 1000])
            await session.execute(insert(SipCredential), creds[start : start + 1000])
    return ent.id, realm, names


async def serve(services: Services) -> tuple[UserAgent, int]:
    ua = UserAgent(local_user="pbx")
    udp = await ua.listen("udp", "127.0.0.1", 0)
    pbx = services.pbx

    async def on_request(incoming: IncomingRequest) -> None:
        remote = incoming.source.remote
        if not pbx.guard.admit(remote.host, remote.port, incoming.method):
            incoming.send_statelessly(incoming.create_response(403, "Forbidden (source blocked)"))
        elif incoming.method == "REGISTER":
            await pbx.registrar.handle(incoming)
        else:
            incoming.respond(405)

    ua.on_request = on_request
    return ua, udp.local_address.port


async def sipp_step(
    port: int, domain: str, names: list[str], rate: int, workdir: Path, step: int
) -> Step:
    users = workdir / f"users-{step}.csv"
    users.write_text(
        "SEQUENTIAL\n"
        + "".join(
            f"{n};{domain};[authentication username={n} password={PASSWORD}]\n" for n in names
        )
    )
    stats = workdir / f"stats-{step}.csv"
    pin = ["taskset", "-c", "0"] if (os.cpu_count() or 1) >= 2 and shutil.which("taskset") else []
    command = [
        *pin, shutil.which("sipp") or "/usr/bin/sipp",
        "-sf", str(SCENARIO), "-inf", str(users), "-auth_uri", domain,
        f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", "0", "-t", "u1",
        "-m", str(len(names)), "-r", str(rate), "-l", str(max(rate, 100)),
        "-timeout", "120s", "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]  # fmt: skip
    cpu = cpu_seconds()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=workdir,
    )
    await process.wait()
    seconds = time.perf_counter() - started
    used = cpu_seconds() - cpu
    rows = [line.split(";") for line in stats.read_text().splitlines() if line]
    last = dict(zip(rows[0], rows[-1], strict=False))
    ok = int(last.get("SuccessfulCall(C)", "0") or 0)
    failed = int(last.get("FailedCall(C)", "0") or 0)
    return Step(rate, ok, failed, seconds, used / max(ok, 1) * 1e6)


def memory_per_device(services: Services, tenant_id: uuid.UUID) -> dict[str, float]:
    """Bytes per device held by each structure, measured by rebuilding it under tracemalloc."""
    pbx = services.pbx
    location = pbx.location
    bindings = [b for found in location._users.values() for b in found.values()]
    count = len(bindings)
    figures: dict[str, float] = {"registered": float(count)}

    from zongji.pbx.devices.location import LocationService, NewBinding

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    copy = LocationService(now=location.now)
    for b in bindings:
        copy.update(
            b.device.__class__(*(getattr(b.device, f) for f in b.device.__dataclass_fields__)),
            [NewBinding(b.key + "x", b.sent + "x", b.contact.uri + "x", 300, b.nat)],
            flow=b.contact.flow,
            call_id=b.call_id + "x",
            cseq=b.cseq,
            user_agent=b.contact.user_agent,
        )
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    figures["location"] = _grown(before, after) / max(count, 1)
    del copy
    return figures


def _grown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> float:
    return float(sum(s.size_diff for s in after.compare_to(before, "filename")))


async def cache_bytes(services: Services, tenant_id: uuid.UUID, count: int) -> dict[str, float]:
    """What the credential cache and the telephony view keep per device: each is loaded into a
    fresh instance under tracemalloc (after a warm-up load, so connection pools and statement
    caches are not counted), and the instance kept alive while the snapshot is taken."""

    def fresh_view() -> TelephonyDirectory:
        return TelephonyDirectory(
            services.directory.enterprises,
            services.directory.users,
            InProcessBus(),
            monotonic=time.monotonic,
        )

    def fresh_credentials() -> DeviceCredentials:
        return DeviceCredentials(
            services.db,
            InProcessBus(),
            services.clock,
            services.audit,
            fresh_view(),
            services.directory.users,
        )

    out = {}
    for name, make, load in (
        ("credentials", fresh_credentials, lambda o: o.find(tenant_id, "none")),
        ("view", fresh_view, lambda o: o.subscriber(tenant_id, uuid.uuid4())),
    ):
        await load(make())  # warm-up
        instance = make()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await load(instance)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        out[name] = _grown(before, after) / count
        del instance
    return out


async def run(args: argparse.Namespace) -> None:
    devices = 200 if args.smoke else args.devices
    rates = [200, 400] if args.smoke else args.rates
    with tempfile.TemporaryDirectory(prefix="bench-register.") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        settings = Settings(
            database_url=url,
            data_dir=Path(tmp),
            secret_key="b" * 40,
            node_name="bench",
            sip_source_rate=1e9,
            sip_source_burst=1e9,
        )
        services = build_services(settings, clock=SystemClock())
        ua = None
        try:
            tenant_id, domain, names = await provision(services, devices)
            ua, port = await serve(services)
            gc.collect()
            rss0 = rss_kib()
            print("registrar: zongji (uvloop, one process); load: SIPp 3.6, MD5 Digest over UDP")
            print(
                f"devices: {devices}, each registering once per step (REGISTER, 401, REGISTER, 200)"
            )
            print(
                "(step 1 is each device's first registration: the directory then marks its user\n"
                " registered, one operation-log entry per user, written in batches; the other\n"
                " steps are re-registrations, the registrar's steady work)"
            )
            header = f"{'step':>8} {'target/s':>9} {'ok':>7} {'failed':>7}"
            print(f"{header} {'achieved/s':>11} {'CPU us/reg':>11}")
            for step, rate in enumerate(rates):
                result = await sipp_step(port, domain, names, rate, Path(tmp), step)
                await services.pbx.registrar.close()  # the first step's directory writes
                kind = "first" if step == 0 else "refresh"
                print(
                    f"{kind:>8} {rate:>9} {result.ok:>7} {result.failed:>7} "
                    f"{result.achieved:>11.0f} {result.cpu_us:>11.0f}"
                )
            registered = services.pbx.location.binding_count
            rss1 = rss_kib()
            print(f"\nregistered now: {registered} bindings")
            mem = memory_per_device(services, tenant_id)
            caches = await cache_bytes(services, tenant_id, devices)
            total = mem["location"] + caches["credentials"] + caches["view"]
            print(f"memory per registered device ({devices} devices, tracemalloc):")
            print(f"  location binding   {mem['location']:8.0f} B")
            print(f"  credential cache   {caches['credentials']:8.0f} B")
            print(f"  telephony view     {caches['view']:8.0f} B")
            print(f"  total              {total:8.0f} B")
            print(
                f"process RSS growth from before the first REGISTER: "
                f"{(rss1 - rss0) / max(registered, 1) * 1024:.0f} B per device (caches loaded, "
                f"bindings, and the SIP stack's transaction state still absorbing retransmissions)"
            )
        finally:
            if ua is not None:
                await ua.close()
            await services.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument(
        "--rates",
        type=lambda v: [int(r) for r in v.split(",")],
        default=[200, 500, 1000, 2000, 3000],
    )
    args = parser.parse_args()
    if not shutil.which("sipp") and not Path("/usr/bin/sipp").exists():
        print("sipp is not installed: install the Debian package sip-tester", file=sys.stderr)
        return 1
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        pass
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # the registrar on core 1, SIPp on core 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
