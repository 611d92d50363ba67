"""Real phones register at the PBX: SIPp with MD5 Digest, baresip with a device credential.

The PBX is the node's own SIP component on free ports (`pbx` fixture, tests/interop/pbx_harness.py);
the phones get their credentials the way a user does (issued by the platform, shown once).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from tests.interop.baresip import Baresip
from tests.interop.pbx_harness import RunningPbx
from tests.interop.sipp import Sipp

SCENARIOS = Path(__file__).parent / "scenarios"


async def _wait_for(check: object, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def _sipp(
    pbx: RunningPbx, domain: str, rows: list[str], calls: int, *, auth_uri: bool = True
) -> Sipp:
    """SIPp registering each row's device at `domain`. SIPp's digest-uri is the address it sends
    to unless `-auth_uri` says otherwise (`auth_uri=False` keeps SIPp's default)."""
    users = Path(f"/tmp/pbx-register-{uuid.uuid4().hex}.csv")
    users.write_text("SEQUENTIAL\n" + "".join(row + "\n" for row in rows))
    return Sipp(
        "-sf", str(SCENARIOS / "pbx_register_digest.xml"),
        "-inf", str(users),
        *(["-auth_uri", domain] if auth_uri else []),
        pbx.address,
        "-m", str(calls), "-r", "10", "-l", str(calls),
        "-timeout", "30s",
    )  # fmt: skip


async def test_sipp_registers_with_md5_digest_and_unregisters(pbx: RunningPbx) -> None:
    acme = await pbx.enterprise("acme")
    alice = await pbx.user(acme, "张三", "8001")
    bob = await pbx.user(acme, "李四", "8002")
    alice_cred = await pbx.device(acme, alice)
    bob_cred = await pbx.device(acme, bob)
    rows = [
        f"{alice_cred.username};{acme.domain};"
        f"[authentication username={alice_cred.username} password={alice_cred.password}]",
        f"{bob_cred.username};{acme.domain};"
        f"[authentication username={bob_cred.username} password={bob_cred.password}]",
    ]
    sipp = _sipp(pbx, acme.domain, rows, 2)
    location = pbx.services.pbx.location
    try:
        await sipp.start()
        # both bindings exist while SIPp holds them
        await _wait_for(
            lambda: location.contacts(acme.id, alice) and location.contacts(acme.id, bob)
        )
        (contact,) = location.contacts(acme.id, alice)
        assert contact.uri == f"sip:{alice_cred.username}@127.0.0.1:{sipp.local_port}"
        assert contact.user_agent == "SIPp"
        result = await sipp.wait(within=40)
    finally:
        await sipp.stop()
    assert result.successful == 2, result.explain()
    assert result.failed == 0, result.explain()
    assert location.contacts(acme.id, alice) == []  # unregistered with Expires: 0
    assert location.contacts(acme.id, bob) == []
    sipp.cleanup()


async def test_sipp_with_its_default_digest_uri_registers_and_is_never_blocked(
    pbx: RunningPbx,
) -> None:
    """SIPp's default digest-uri is `sip:<the PBX's address>`, not the Request-URI: the PBX
    verifies the response against it. More registrations than the guard's failure limit, all
    from one address: every one succeeds and nothing is blocked."""
    acme = await pbx.enterprise("acme")
    alice = await pbx.user(acme, "张三", "8001")
    cred = await pbx.device(acme, alice)
    calls = pbx.services.pbx.guard.max_failures + 2
    rows = [f"{cred.username};{acme.domain};"
            f"[authentication username={cred.username} password={cred.password}]"]  # fmt: skip
    sipp = _sipp(pbx, acme.domain, rows, calls, auth_uri=False)
    try:
        await sipp.start()
        result = await sipp.wait(within=60)
    finally:
        await sipp.stop()
    assert f'uri="sip:{pbx.address}"' in result.messages  # SIPp's default, not the domain
    assert result.successful == calls, result.explain()
    assert "SIP/2.0 403" not in result.messages
    assert pbx.services.pbx.guard.blocks() == []
    sipp.cleanup()


async def test_sipp_with_a_wrong_password_is_never_registered(pbx: RunningPbx) -> None:
    acme = await pbx.enterprise("acme")
    alice = await pbx.user(acme, "张三", "8001")
    cred = await pbx.device(acme, alice)
    rows = [f"{cred.username};{acme.domain};[authentication username={cred.username} password=x]"]
    sipp = _sipp(pbx, acme.domain, rows, 1)
    try:
        await sipp.start()
        result = await sipp.wait(within=40)
    finally:
        await sipp.stop()
    assert result.failed == 0, result.explain()
    assert "401" in result.messages.split("CSeq: 2 REGISTER", 1)[1]  # challenged again
    assert pbx.services.pbx.location.contacts(acme.id, alice) == []
    sipp.cleanup()


async def test_baresip_registers_with_its_device_credential(pbx: RunningPbx) -> None:
    acme = await pbx.enterprise("acme")
    alice = await pbx.user(acme, "张三", "8001")
    cred = await pbx.device(acme, alice)
    # what a user types into a softphone: username, password, domain, and the server to use
    phone = Baresip(
        f"<sip:{cred.username}@{cred.domain}>;auth_pass={cred.password}"
        f';outbound="sip:{pbx.address}";regint=600;answermode=auto'
    )
    await phone.start()  # baresip registers as it starts (before its control link is up)
    try:
        location = pbx.services.pbx.location
        await _wait_for(lambda: location.contacts(acme.id, alice), within=15)
        (contact,) = location.contacts(acme.id, alice)
        assert contact.device.username == cred.username
        assert contact.user_agent.startswith("baresip")
        assert contact.uri.endswith(f"@127.0.0.1:{phone.sip_port}")
    finally:
        await phone.stop()


async def test_baresip_with_another_enterprises_credential_is_refused(pbx: RunningPbx) -> None:
    acme = await pbx.enterprise("acme")
    beta = await pbx.enterprise("beta")
    await pbx.user(acme, "张三", "8001")
    bob = await pbx.user(beta, "李四", "8001")
    beta_cred = await pbx.device(beta, bob)
    phone = Baresip(
        f"<sip:{beta_cred.username}@{acme.domain}>;auth_pass={beta_cred.password}"
        f';outbound="sip:{pbx.address}";regint=600'
    )
    await phone.start()
    try:
        await _wait_for(lambda: "403 Forbidden" in phone.log(), within=15)
        assert pbx.services.pbx.location.contacts(beta.id, bob) == []
    finally:
        await phone.stop()
