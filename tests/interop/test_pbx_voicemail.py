"""Voicemail with real peers (CALL-10): a SIPp phone calls a colleague who does not answer, speaks
into voicemail (SIPp's g711a.pcap as RTP), and the message is there — its WAV holds the caller's
audio for as long as they spoke — listed, downloaded, heard and deleted through the API; and a
second SIPp process, the colleague's desk phone, sees the message-waiting lamp go on and off
(RFC 3842 NOTIFYs, checked by SIPp itself).

The callee's ringing phone is a softphone on our own SIP stack that registers and rings but never
answers, so the call goes to voicemail when the ring time runs out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
from tests.conftest import World
from tests.interop.pbx_harness import HOST, RunningPbx, SipCredential, running_pbx
from tests.interop.sipp import Sipp, free_port
from tests.media.pcap import read_udp

from zongji.api.app import create_app
from zongji.media.g711 import Codec, decode
from zongji.media.rtp import parse_rtp
from zongji.media.wav import parse_wav
from zongji.pbx.voicemail.audio import wav_bytes
from zongji.sip.auth.client import Credentials
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingCall, IncomingRequest

SCENARIOS = Path(__file__).parent / "scenarios"
CAPTURE = Path("/usr/share/sip-tester/g711a.pcap")
URL = "/api/v1/me/voicemail"


def _voiced(pcm: np.ndarray) -> tuple[float, float]:
    """Where the speech is (first and last sample above a threshold), in seconds."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 2000)
    return loud[0] / 8000, loud[-1] / 8000


def _capture_speech_seconds() -> float:
    packets = [parse_rtp(d.payload) for d in read_udp(CAPTURE)]
    start, end = _voiced(decode(Codec.PCMA, b"".join(p.payload for p in packets)))
    return end - start


async def _ringing_phone(pbx: RunningPbx, cred: SipCredential) -> UserAgent:
    """Registers, rings (180) on every call, never answers."""
    ua = UserAgent(local_user=cred.username)
    await ua.listen("udp", HOST, 0)

    def on_request(incoming: IncomingRequest) -> None:
        if isinstance(incoming, IncomingCall):
            incoming.ring(180)
        else:
            incoming.respond(200)

    ua.on_request = on_request
    registration = ua.registration(
        f"sip:{cred.domain}",
        f"sip:{cred.username}@{cred.domain}",
        credentials=Credentials(cred.username, cred.password),
        expires=600,
        destination=Destination(TransportKind.UDP, HostPort(HOST, pbx.udp_port)),
    )
    assert (await registration.register()).status == 200
    return ua


async def _api(pbx: RunningPbx) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pbx.services)
    app.state.ready = True
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://zongji.test") as client:
        yield client


def _sipp(scenario: str, rows: str, tmp_path: Path, pbx: RunningPbx, *extra: str) -> Sipp:
    fields = tmp_path / f"{scenario}-{uuid.uuid4().hex[:6]}.csv"
    fields.write_text(f"SEQUENTIAL\n{rows}\n")
    return Sipp(
        "-sf", str(SCENARIOS / f"{scenario}.xml"), "-inf", str(fields), pbx.address,
        "-m", "1", "-timeout", "120s", *extra,
    )  # fmt: skip


async def _until(predicate, within: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_sipp_caller_leaves_a_message_and_the_lamp_follows(
    database_url: str, tmp_path: Path
) -> None:
    async with running_pbx(database_url, tmp_path / "node", ring_timeout=2.0) as pbx:
        acme = await pbx.enterprise("acme")
        alice = await pbx.user(acme, "张三", "8001", mobile="13800000001")
        bob = await pbx.user(acme, "李四", "8002", mobile="13800000002")
        bob_phone = await pbx.device(acme, bob)
        alice_phone = await pbx.device(acme, alice)
        alice_desk = await pbx.device(acme, alice, kind="desk_phone")
        voicemail = pbx.services.pbx.voicemail
        # a short greeting of Alice's own, so the caller's speech starts soon after the answer
        tone = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000) * 6000
        greeting = wav_bytes(tone.astype(np.int16))
        await voicemail.mailbox.set_greeting(acme.id, alice, greeting)

        ringing = await _ringing_phone(pbx, alice_phone)
        lamp = _sipp(
            "voicemail_mwi",
            f"{alice_desk.username};{acme.domain};"
            f"[authentication username={alice_desk.username} password={alice_desk.password}]",
            tmp_path,
            pbx,
            "-auth_uri",
            f"{alice_desk.username}@{acme.domain}",
        )
        caller = _sipp(
            "voicemail_caller",
            f"{bob_phone.username};8001;{acme.domain};"
            f"[authentication username={bob_phone.username} password={bob_phone.password}]",
            tmp_path,
            pbx,
            "-auth_uri", f"8001@{acme.domain}", "-mi", HOST, "-mp", str(free_port()),
        )  # fmt: skip
        try:
            await lamp.start()

            async def subscribed() -> bool:
                return voicemail.mwi.subscriptions(acme.id, alice) == 1

            try:
                await _until(subscribed)
            except AssertionError:
                result = await lamp.wait(within=1)
                raise AssertionError(result.explain() + result.messages[-4000:]) from None
            await caller.start()
            called = await caller.wait(within=60)
            assert called.successful == 1, called.explain()

            record = await pbx.wait_record(acme, lambda r: r.status == "voicemail")
            assert record.callee_user_id == alice
            assert record.caller_user_id == bob

            async for client in _api(pbx):
                world = World(pbx.services, client)
                token = (await world.code_login("13800000001"))["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                box = (await client.get(URL, headers=auth)).json()
                assert (box["total"], box["unheard"]) == (1, 1), box
                message = box["items"][0]
                assert message["caller"]["number"] == "8002"
                assert message["caller"]["user_id"] == str(bob)
                # greeting and beep ≈ 1 s of lead-in, 7.08 s of capture, 0.2 s of the silence
                assert 7.0 <= message["seconds"] <= 9.5, message

                r = await client.get(message["audio_url"], headers=auth)
                assert r.status_code == 200
                assert r.headers["content-type"] == "audio/wav"
                pcm = parse_wav(r.content)
                assert abs(len(pcm) / 8000 - message["seconds"]) < 0.01
                start, end = _voiced(pcm)
                assert abs((end - start) - _capture_speech_seconds()) < 0.3, (start, end)

                r = await client.post(f"{URL}/{message['id']}/heard", headers=auth)
                assert r.status_code == 200
                lamp_result = await lamp.wait(within=30)
                assert lamp_result.successful == 1, lamp_result.explain()
                assert voicemail.mwi.subscriptions(acme.id, alice) == 0

                assert (
                    await client.delete(f"{URL}/{message['id']}", headers=auth)
                ).status_code == 204
                assert (await client.get(URL, headers=auth)).json()["total"] == 0
                r = await client.get(message["audio_url"], headers=auth)
                assert r.status_code == 404
            caller.cleanup()
            lamp.cleanup()
        finally:
            await caller.stop()
            await lamp.stop()
            await ringing.close()
