"""A node killed mid-call (SIGKILL of a real `zongji serve`) and started again.

When it comes back it must (issue 11 item 9):
- hang up the call it left behind: each phone of the call gets a BYE in its dialog, and the
  call's record is closed as interrupted by a node failure;
- still know where its phones are: a phone that registered before the crash (and does not
  register again) rings when it is called.

The node runs as users run it (`python -m zongji.cli serve`, uvloop) on the suite's database;
the test provisions the enterprise through the same services, in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import clear_tables, make_settings
from tests.interop.pbx_harness import HOST, SipCredential
from tests.interop.sipp import Sipp, free_port, ok, wait_bound

from zongji.directory.schemas import EnterpriseCreate
from zongji.directory.user_schemas import UserCreate
from zongji.pbx.devices.models import RegistrationBinding
from zongji.pbx.records.search import CallRecordOut
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import SystemClock
from zongji.platform.db import PLATFORM
from zongji.services import Services, build_services

SCENARIOS = Path(__file__).parent / "scenarios"
NODE = "crash-test-node"
STARTUP_SECONDS = 60


def free_sip_port() -> int:
    """A port free for both UDP and TCP (the node listens on both with one number)."""
    while True:
        port = free_port("udp")
        with contextlib.suppress(OSError), socket.socket() as tcp:
            tcp.bind((HOST, port))
            return port


class NodeProcess:
    """`zongji serve` on the suite's database, on fixed ports, as a child process."""

    def __init__(self, cwd: Path, database_url: str, sip_port: int) -> None:
        self.cwd = cwd
        self.database_url = database_url
        self.sip_port = sip_port
        self.http_port = free_port("tcp")
        self.proc: asyncio.subprocess.Process | None = None
        self.lives = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.sip_port}"

    async def start(self) -> None:
        self.lives += 1
        with (self.cwd / f"node-{self.lives}.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "zongji.cli", "serve",
                "--database-url", self.database_url, "--no-migrate", "--node-name", NODE,
                "--http-port", str(self.http_port), "--sip-port", str(self.sip_port),
                cwd=self.cwd, stdout=log, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_SECONDS
        async with httpx.AsyncClient() as http:
            while loop.time() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(f"node exited early:\n{self.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.get(f"http://{HOST}:{self.http_port}/healthz", timeout=1)
                    if r.status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"node not ready:\n{self.log()}")

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash or a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                await self.kill()

    def log(self) -> str:
        logs = sorted(self.cwd.glob("node-*.log"))
        return "\n".join(path.read_text(errors="replace")[-4000:] for path in logs)


@pytest.fixture
async def provisioning(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    """The platform's services in this process (real clock), on the emptied suite database."""
    services = build_services(make_settings(database_url, tmp_path / "tools"), clock=SystemClock())
    await clear_tables(services)
    yield services
    await services.close()


@pytest.fixture
async def node(database_url: str, tmp_path: Path) -> AsyncIterator[NodeProcess]:
    process = NodeProcess(tmp_path, database_url, free_sip_port())
    try:
        yield process
    finally:
        await process.stop()


class Phones:
    """SIPp phones (stopped at the end whatever happens)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[Sipp] = []

    def sipp(self, scenario: str, rows: str, *extra: str, local_port: int | None = None) -> Sipp:
        fields = self.tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.csv"
        fields.write_text(f"SEQUENTIAL\n{rows}\n")
        sipp = Sipp(
            "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(fields), "-m", "1",
            "-timeout", "90s", "-mi", HOST, "-mp", str(free_port()), *extra,
            local_port=local_port,
        )  # fmt: skip
        self.running.append(sipp)
        return sipp

    def caller(self, scenario: str, node: str, cred: SipCredential, dialled: str) -> Sipp:
        auth = f"[authentication username={cred.username} password={cred.password}]"
        rows = f"{cred.username};{dialled};{cred.domain};{auth};0 101;0 PCMU/8000"
        return self.sipp(scenario, rows, node, "-auth_uri", f"{dialled}@{cred.domain}")

    async def register(self, node: str, cred: SipCredential) -> int:
        """Registers (300 s) from a port of its own; returns the port, for its call handling."""
        port = free_port()
        auth = f"[authentication username={cred.username} password={cred.password}]"
        rows = f"{cred.username};{cred.domain};{auth}"
        sipp = self.sipp(
            "pbx_phone_register", rows, node, "-auth_uri", cred.domain, local_port=port
        )
        await sipp.start()
        ok(await sipp.wait(20))
        return port

    async def answering(self, port: int) -> Sipp:
        """The desk phone's call handling on its registered port: answers, ends on BYE."""
        sipp = self.sipp("pbx_callee", "x", local_port=port)
        await sipp.start()
        await wait_bound(port)
        return sipp

    async def close(self) -> None:
        for sipp in self.running:
            await sipp.stop()
            sipp.cleanup()


async def latest_record(
    services: Services, tenant_id: uuid.UUID, *, closed: bool, within: float = 20.0
) -> CallRecordOut:
    """The enterprise's latest call record once it was answered (and closed, if `closed`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await services.pbx.records.all_for(tenant_id)
        answered = bool(found) and found[0].answered_at is not None
        if answered and (not closed or found[0].ended_at is not None):
            return found[0]
        assert loop.time() < deadline, f"no such call record: {found!r}"
        await asyncio.sleep(0.1)


async def journalled(services: Services, count: int, within: float = 10.0) -> None:
    """Wait until the node has written `count` bindings to the database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with services.db.session(PLATFORM) as session:
            found = await session.scalar(select(func.count()).select_from(RegistrationBinding))
        if found == count:
            return
        assert loop.time() < deadline, f"{found} bindings written, not {count}"
        await asyncio.sleep(0.05)


async def test_a_node_killed_mid_call_hangs_up_both_legs_and_keeps_its_phones(
    provisioning: Services, node: NodeProcess, tmp_path: Path
) -> None:
    services = provisioning
    acme = await services.directory.enterprises.create(
        SYSTEM, EnterpriseCreate(code="acme", name="acme 公司", area_code="025", city="南京")
    )
    people = {}
    for name, extension, mobile in (
        ("张三", "8001", "13800000001"),
        ("李四", "8002", "13800000002"),
    ):
        user = await services.directory.users.create(
            SYSTEM, acme.id, UserCreate(name=name, extension=extension, mobile=mobile)
        )
        issued = await services.pbx.credentials.issue(
            SYSTEM, acme.id, user.id, kind="desk_phone", label="desk"
        )
        people[extension] = (
            user.id,
            SipCredential(issued.username, issued.password, acme.sip_domain),
        )
    alice_cred = people["8001"][1]
    bob, bob_cred = people["8002"]
    phones = Phones(tmp_path)
    try:
        await node.start()
        bob_port = await phones.register(node.address, bob_cred)
        # The node writes bindings behind the REGISTER (within GATHER_SECONDS); a crash in
        # that moment loses the newest one, which is not what this test is about.
        await journalled(services, 1)
        callee = await phones.answering(bob_port)
        caller = phones.caller("pbx_caller_until_bye", node.address, alice_cred, "8002")
        await caller.start()
        live = await latest_record(services, acme.id, closed=False)
        assert live.ended_at is None, live

        await node.kill()  # mid-call: no BYE, no record closed, nothing flushed on purpose
        await node.start()

        # Both phones are hung up by the node's second life, each in its own dialog.
        ok(await caller.wait(40))
        ok(await callee.wait(40))
        (record,) = await services.pbx.records.all_for(acme.id)
        assert (record.status, record.hangup_side, record.reason) == (
            "interrupted",
            "system",
            "node failure",
        )

        # Bob's phone did not register again, and still rings.
        callee = await phones.answering(bob_port)
        again = phones.caller("pbx_caller", node.address, alice_cred, "8002")
        await again.start()
        ok(await again.wait(40))
        ok(await callee.wait(20))
        latest = await latest_record(services, acme.id, closed=True)
        assert (latest.status, latest.answered_by_user_id) == ("answered", bob), node.log()
    finally:
        await phones.close()
