"""A running PBX for tests that place real calls: the node's services and its SIP/media component
on free ports, plus helpers that provision what a call needs (enterprise, users, device
credentials, trunks) through the same services an admin or operator would use.

Usage (see the `pbx` fixture in tests/interop/conftest.py, which the PBX tests share):

    async def test_something(pbx: RunningPbx) -> None:
        acme = await pbx.enterprise("acme", main_number="025-8888 0000")
        alice = await pbx.user(acme, "张三", "8001")
        cred = await pbx.device(acme, alice)          # username, password, domain
        # a phone registers to 127.0.0.1:pbx.udp_port with cred.username / cred.password
        record = await pbx.wait_record(acme, lambda r: r.status == "answered")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zongji.demo.carrier import DemoCarrier, DemoCarrierBeside
from zongji.directory.schemas import EnterpriseCreate
from zongji.directory.user_schemas import UserChange, UserCreate
from zongji.pbx.calls.component import PbxComponent, PbxComponentDeps
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import Clock, SystemClock
from zongji.services import Services

HOST = "127.0.0.1"
_mobiles = itertools.count(13800000001)


@dataclass(frozen=True)
class PbxTenant:
    id: uuid.UUID
    code: str
    domain: str
    main_number: str | None


@dataclass(frozen=True)
class SipCredential:
    username: str
    password: str
    domain: str


@dataclass
class RunningPbx:
    services: Services
    component: PbxComponent
    ports: dict[str, Any]
    demo_carrier: DemoCarrier | None = None  # started beside the PBX when `demo=True`, as a node

    @property
    def udp_port(self) -> int:
        return int(self.ports["udp"])

    @property
    def tcp_port(self) -> int:
        return int(self.ports["tcp"])

    @property
    def address(self) -> str:
        return f"{HOST}:{self.udp_port}"

    async def enterprise(self, code: str, **fields: Any) -> PbxTenant:
        """An active enterprise in Nanjing (area code 025) with 4-digit extensions."""
        data = EnterpriseCreate(
            **{"code": code, "name": f"{code} 公司", "area_code": "025", "city": "南京", **fields}
        )
        ent = await self.services.directory.enterprises.create(SYSTEM, data)
        return PbxTenant(ent.id, ent.code, ent.sip_domain, ent.main_number)

    async def user(self, tenant: PbxTenant, name: str, extension: str, **fields: Any) -> uuid.UUID:
        """A user with an extension; any directory field can be given (direct_line needs the
        number in the pool first: see `numbers`)."""
        fields.setdefault("mobile", str(next(_mobiles)))
        created = await self.services.directory.users.create(
            SYSTEM, tenant.id, UserCreate(name=name, extension=extension, **fields)
        )
        return created.id

    async def change_user(self, tenant: PbxTenant, user_id: uuid.UUID, **fields: Any) -> None:
        await self.services.directory.users.change(SYSTEM, tenant.id, user_id, UserChange(**fields))

    async def numbers(self, tenant: PbxTenant, *numbers: str) -> None:
        """Give the enterprise numbers from the operator's pool (for direct lines)."""
        await self.services.directory.numbers.add(SYSTEM, tenant.id, list(numbers))

    async def device(
        self, tenant: PbxTenant, user_id: uuid.UUID, kind: str = "softphone"
    ) -> SipCredential:
        """A SIP credential issued to one of the user's devices (the password is shown once)."""
        issued = await self.services.pbx.credentials.issue(
            SYSTEM, tenant.id, user_id, kind=kind, label=f"test {kind}"
        )
        return SipCredential(issued.username, issued.password, tenant.domain)

    async def records(self, tenant: PbxTenant) -> list[Any]:
        """Every call record of the enterprise, newest first."""
        return list(await self.services.pbx.records.all_for(tenant.id))

    async def wait_record(
        self,
        tenant: PbxTenant,
        match: Callable[[Any], bool] = lambda r: True,
        *,
        within: float = 10.0,
    ) -> Any:
        """The first closed call record that `match`es, waiting for it to be written."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for record in await self.records(tenant):
                if record.ended_at is not None and match(record):
                    return record
            if asyncio.get_running_loop().time() > deadline:
                found = await self.records(tenant)
                raise AssertionError(f"no matching call record within {within}s: {found!r}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_pbx(
    database_url: str,
    data_dir: Path,
    *,
    clock: Clock | None = None,
    clear: bool = True,
    **settings: Any,
) -> AsyncIterator[RunningPbx]:
    """Services on `database_url` (tables emptied first, unless `clear=False`: the same node
    starting again) and the PBX component on free ports (or the `sip_port` given)."""
    from tests.conftest import build_services_with_phones, clear_tables, make_settings

    settings.setdefault("sip_port", 0)
    config = make_settings(database_url, data_dir, **settings)
    services = build_services_with_phones(config, clock or SystemClock())
    if clear:
        await clear_tables(services)
    component = PbxComponent(PbxComponentDeps(services.settings, services.clock, services.pbx))
    started: PbxComponent | DemoCarrierBeside = component
    if config.demo:
        started = DemoCarrierBeside(component, services)
    ports = await started.start()
    carrier = started.carrier if isinstance(started, DemoCarrierBeside) else None
    try:
        yield RunningPbx(services, component, ports, carrier)
    finally:
        await started.stop()
        await services.close()


@pytest.fixture
async def pbx(database_url: str, tmp_path: Path) -> AsyncIterator[RunningPbx]:
    """A running PBX on the suite's database (emptied first), on free ports, real clock."""
    async with running_pbx(database_url, tmp_path) as running:
        yield running
