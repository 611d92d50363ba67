"""What the dial plan and the trunk runtime cost per call: `parse_dialled` over a mix of what
phones send, `dials()` with several trunks, and `inbound_trunk()` for a request's source.

These run on every INVITE, so they must stay far below a call's SIP cost (about 0.6 ms per call
in the stack, docs/sip.md). The runtime is measured in memory, as the engine calls it (no
database, no network): trunks are loaded once, then only read.

`--smoke`: fewer rounds, for CI.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import statistics
import time
import uuid
from collections.abc import Callable

from zongji.pbx.contracts import DialError, TenantLine
from zongji.pbx.dialling import parse_dialled
from zongji.pbx.trunks.config import Source, TrunkConfig
from zongji.pbx.trunks.health import TrunkHealth
from zongji.pbx.trunks.models import NumberFormat, TrunkMode, TrunkTransport
from zongji.pbx.trunks.runtime import TrunkRuntime
from zongji.platform.clock import SystemClock
from zongji.platform.events import InProcessBus
from zongji.sip import HostPort

TENANT = TenantLine(
    tenant_id=uuid.uuid4(),
    code="acme",
    name="Acme",
    sip_domain="acme.zongji.test",
    status="active",
    area_code="025",
    city="南京",
    timezone="Asia/Shanghai",
    main_number="+862588880000",
    access_number=None,
    features={},
    extension_length=4,
)
DIALLED = [
    "8001",
    "13912345678",
    "139-1234-5678",
    "02588886666",
    "88886666",
    "+86 25 8888 6666",
    "0044 20 7946 0958",
    "4008123123",
    "95588",
    "110",
    "*97",
]


def per_call(fn: Callable[[], object], rounds: int) -> float:
    """Microseconds per call, median of five runs."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


def runtime_with(trunks: int) -> TrunkRuntime:
    rt = TrunkRuntime(None, InProcessBus(), SystemClock())  # type: ignore[arg-type]
    for i in range(trunks):
        config = TrunkConfig(
            id=uuid.uuid4(),
            name=f"trunk-{i}",
            host=f"203.0.113.{i + 1}",
            port=5060,
            transport=TrunkTransport.UDP,
            mode=TrunkMode.IP,
            username=None,
            password=None,
            realm=None,
            register_expires=600,
            from_domain=None,
            inbound_sources=(Source(ipaddress.ip_network(f"198.51.{i}.0/24")),),
            priority=i,
            enabled=True,
            options_interval=30,
            all_enterprises=True,
            enterprise_ids=frozenset(),
            number_format=NumberFormat.NATIONAL if i % 2 else NumberFormat.E164,
        )
        rt._configs[config.id] = config
        health = rt._health[config.id] = TrunkHealth(config)
        health.options_answered = True
        rt._inbound.extend((config.id, s) for s in config.inbound_sources)
    return rt


class _Flow:
    def __init__(self, host: str) -> None:
        self.remote = HostPort(host, 5060)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    rounds = 2_000 if parser.parse_args().smoke else 20_000

    def dial_mix() -> None:
        for raw in DIALLED:
            with contextlib.suppress(DialError):
                parse_dialled(raw, TENANT)

    mix = per_call(dial_mix, rounds // 10) / len(DIALLED)
    print(f"parse_dialled, mix of {len(DIALLED)}: {mix:.1f} us each")
    for raw in ("8001", "13912345678", "88886666", "95588"):
        us = per_call(lambda raw=raw: parse_dialled(raw, TENANT), rounds)
        print(f"parse_dialled({raw!r}): {us:.1f} us")
    for count in (1, 4, 16):
        rt = runtime_with(count)
        us = per_call(lambda rt=rt: rt.dials(TENANT, "+8613912345678", "+862588880000"), rounds)
        last = _Flow(f"198.51.{count - 1}.7")
        miss = _Flow("192.0.2.1")
        hit_us = per_call(lambda rt=rt, f=last: rt.inbound_trunk(f), rounds)  # type: ignore[arg-type]
        miss_us = per_call(lambda rt=rt, f=miss: rt.inbound_trunk(f), rounds)  # type: ignore[arg-type]
        print(
            f"{count:>2} trunks: dials() {us:.1f} us, inbound_trunk() last match {hit_us:.1f} us, "
            f"no match {miss_us:.1f} us"
        )


if __name__ == "__main__":
    main()
