"""The SIPp and baresip peers of a PBX interop test, and the `peers` fixture (beside the module's
own `node` fixture, which it uses): everything a test starts is stopped whatever happens."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.interop.baresip import Baresip
from tests.interop.pbx_harness import HOST, RunningPbx, SipCredential
from tests.interop.sipp import Sipp, free_port, ok

SCENARIOS = Path(__file__).parent / "scenarios"
GOOD_SDP = "0 101;0 PCMU/8000"  # field4, field5 of pbx_caller_fails.xml


class Peers:
    """Every SIPp and baresip a test starts, stopped at the end whatever happens."""

    def __init__(self, pbx: RunningPbx, tmp_path: Path) -> None:
        self.pbx = pbx
        self.tmp_path = tmp_path
        self.sipps: list[Sipp] = []
        self.phones: list[Baresip] = []

    def sipp(self, scenario: str, rows: str, *extra: str, local_port: int | None = None) -> Sipp:
        fields = self.tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.csv"
        fields.write_text(f"SEQUENTIAL\n{rows}\n")
        sipp = Sipp(
            "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(fields),
            "-timeout", "60s", "-mi", HOST, "-mp", str(free_port()), *extra,
            local_port=local_port,
        )  # fmt: skip
        if "-m" not in extra:
            sipp.args += ["-m", "1"]
        self.sipps.append(sipp)
        return sipp

    def caller(
        self,
        scenario: str,
        cred: SipCredential,
        dialled: str,
        *extra: str,
        auth_uri: bool = True,
    ) -> Sipp:
        """A SIPp phone placing one call with its device credential; its digest-uri is the
        Request-URI, or with `auth_uri=False` SIPp's default (the address it sends to)."""
        auth = f"[authentication username={cred.username} password={cred.password}]"
        uri = ["-auth_uri", f"{dialled}@{cred.domain}"] if auth_uri else []
        return self.sipp(
            scenario,
            f"{cred.username};{dialled};{cred.domain};{auth};{GOOD_SDP}",
            self.pbx.address,
            *uri,
            *extra,
        )

    async def register(self, cred: SipCredential, port: int | None = None) -> int:
        """Register `cred` from a SIPp on `port` (a free one if None); returns the port."""
        port = port or free_port()
        auth = f"[authentication username={cred.username} password={cred.password}]"
        register = self.sipp(
            "pbx_phone_register",
            f"{cred.username};{cred.domain};{auth}",
            self.pbx.address,
            "-auth_uri",
            cred.domain,
            local_port=port,
        )
        await register.start()
        ok(await register.wait(30))
        return port

    async def registered_sipp(self, cred: SipCredential, scenario: str, *extra: str) -> Sipp:
        """A SIPp desk phone: registers (one SIPp run), then handles calls on the same port
        (one, unless `extra` says `-m N`)."""
        port = await self.register(cred)
        phone = self.sipp(scenario, "x", *extra, local_port=port)
        await phone.start()
        await asyncio.sleep(0.3)  # bound and listening
        return phone

    async def baresip(self, cred: SipCredential, *, answer: bool = True) -> Baresip:
        mode = "auto" if answer else "manual"
        phone = Baresip(
            f"<sip:{cred.username}@{cred.domain}>;auth_pass={cred.password}"
            f';outbound="sip:{self.pbx.address}";regint=600;answermode={mode}'
        )
        self.phones.append(phone)
        await phone.start()
        return phone

    async def close(self) -> None:
        for sipp in self.sipps:
            await sipp.stop()
            sipp.cleanup()
        for phone in self.phones:
            await phone.stop()


@pytest.fixture
async def peers(node: RunningPbx, tmp_path: Path) -> AsyncIterator[Peers]:
    made = Peers(node, tmp_path)
    try:
        yield made
    finally:
        await made.close()
