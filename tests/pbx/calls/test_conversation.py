"""Conversations on a real media engine and real RTP sockets on loopback: a relay of two legs, a
participant moved to another conversation, and a three-party mix built from the same parts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from zongji.media import EndpointSpec, LocalMediaServer
from zongji.media.g711 import FRAME_SAMPLES, Codec, decode, encode
from zongji.media.rtp import build_rtp, is_rtcp, parse_rtp
from zongji.pbx.calls.conversation import Conversation, ConversationMode
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.participants import ApplicationParticipant
from zongji.sip.offer_answer import LocalMedia, SdpSession

HOST = "127.0.0.1"


class Phone(asyncio.DatagramProtocol):
    """A peer on its own UDP socket: talks a tone in real time, keeps the audio it hears."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.payloads: list[bytes] = []
        self.seq = 1
        self.ts = 0
        self.ssrc = int(np.random.default_rng().integers(1, 2**31))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not is_rtcp(data):
            packet = parse_rtp(data)
            if packet.payload_type == 0:
                self.payloads.append(packet.payload)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def forget(self) -> None:
        self.payloads.clear()

    async def talk(self, to: tuple[str, int], freq: float, seconds: float = 0.6) -> None:
        samples = np.arange(int(seconds * 8000)) / 8000
        pcm = np.round(8000 * np.sin(2 * np.pi * freq * samples)).astype(np.int16)
        start = time.monotonic()
        assert self.transport is not None
        for i, at in enumerate(range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)):
            payload = encode(Codec.PCMU, pcm[at : at + FRAME_SAMPLES])
            self.transport.sendto(build_rtp(0, self.seq, self.ts, self.ssrc, payload), to)
            self.seq += 1
            self.ts += FRAME_SAMPLES
            delay = start + (i + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def hears(self, freq: float) -> bool:
        """The tone at `freq` is in what this phone heard (loud, and a spectral peak)."""
        if not self.payloads:
            return False
        pcm = decode(Codec.PCMU, b"".join(self.payloads)).astype(float)
        if np.abs(pcm).max() < 1000:
            return False
        spectrum = np.abs(np.fft.rfft(pcm))
        freqs = np.fft.rfftfreq(len(pcm), 1 / 8000)
        band = spectrum[np.abs(freqs - freq) < 30].max()
        return bool(band > 0.2 * spectrum.max())


class Rig:
    """Legs on a running media engine, each with its phone at the far end."""

    def __init__(self, media: LocalMediaServer, router: MediaEventRouter) -> None:
        self.media = media
        self.router = router
        self.transports: list[asyncio.DatagramTransport] = []
        self.legs: list[CallLeg] = []

    async def leg(self, name: str) -> tuple[CallLeg, Phone]:
        loop = asyncio.get_running_loop()
        transport, phone = await loop.create_datagram_endpoint(Phone, local_addr=(HOST, 0))
        self.transports.append(transport)
        info = await self.media.create_endpoint(EndpointSpec(remote=(HOST, phone.port)))
        session = SdpSession(LocalMedia(HOST, info.local[1]))
        leg = CallLeg(name, self.media, self.router, info, session, media_timeout=None)
        self.legs.append(leg)
        return leg, phone

    async def close(self) -> None:
        for leg in self.legs:
            await leg.close()
        for transport in self.transports:
            transport.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with LocalMediaServer(host=HOST, port_min=0) as media:
        router = MediaEventRouter(media)
        router.start()
        running = Rig(media, router)
        try:
            yield running
        finally:
            await running.close()
            await router.stop()


def _at(leg: CallLeg) -> tuple[str, int]:
    return (HOST, leg.endpoint.local[1])


async def test_two_legs_are_relayed_and_a_moved_leg_talks_in_its_new_conversation(
    rig: Rig,
) -> None:
    a, phone_a = await rig.leg("a")
    b, phone_b = await rig.leg("b")
    c, phone_c = await rig.leg("c")
    first = Conversation(rig.media, name="first")
    second = Conversation(rig.media, name="second")
    await first.add(a)
    await first.add(b)
    await second.add(c)
    assert (first.mode, second.mode) == (ConversationMode.RELAY, ConversationMode.ALONE)

    await phone_a.talk(_at(a), 440)
    await asyncio.sleep(0.1)
    assert phone_b.hears(440)
    assert not phone_c.payloads  # c is alone in its own conversation

    await first.move(b, second)
    assert first.participants == (a,)
    assert second.participants == (c, b)
    assert (first.mode, second.mode) == (ConversationMode.ALONE, ConversationMode.RELAY)
    for phone in (phone_a, phone_b, phone_c):
        phone.forget()
    await asyncio.gather(phone_a.talk(_at(a), 440), phone_c.talk(_at(c), 1000))
    await asyncio.sleep(0.1)
    assert phone_b.hears(1000)  # b now talks with c ...
    assert not phone_b.hears(440)  # ... and no longer hears a
    assert not phone_a.payloads  # a has nobody left to hear


async def test_three_legs_are_mixed_and_two_left_are_relayed_again(rig: Rig) -> None:
    legs = [await rig.leg(name) for name in ("a", "b", "c")]
    conversation = Conversation(rig.media, name="three")
    for leg, _ in legs:
        await conversation.add(leg)
    assert conversation.mode is ConversationMode.MIX
    assert conversation.conference_id is not None
    assert (await rig.media.server_stats()).conferences == 1

    (a, phone_a), (b, phone_b), (c, phone_c) = legs
    await asyncio.gather(phone_a.talk(_at(a), 440), phone_b.talk(_at(b), 1000))
    await asyncio.sleep(0.2)
    assert phone_c.hears(440)
    assert phone_c.hears(1000)
    assert phone_a.hears(1000)
    assert not phone_a.hears(440)
    assert phone_b.hears(440)
    assert not phone_b.hears(1000)

    # c hangs up: it leaves the mix, and the two left are a relay
    c.hung_up.set()
    waiting = asyncio.ensure_future(conversation.wait_end())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert conversation.mode is ConversationMode.RELAY
    assert (await rig.media.server_stats()).conferences == 0
    phone_b.forget()
    await phone_a.talk(_at(a), 440)
    await asyncio.sleep(0.1)
    assert phone_b.hears(440)
    # and the relay ends when either of the two hangs up
    b.hung_up.set()
    assert await asyncio.wait_for(waiting, 2) is b
    await conversation.dissolve()
    assert conversation.participants == ()


async def test_an_application_taking_part_stops_the_relay(rig: Rig) -> None:
    a, phone_a = await rig.leg("a")
    b, phone_b = await rig.leg("b")
    conversation = Conversation(rig.media)
    await conversation.add(a)
    await conversation.add(b)
    menu = ApplicationParticipant("menu")
    await conversation.add(menu)
    assert conversation.mode is ConversationMode.APPLICATION
    await phone_a.talk(_at(a), 440, seconds=0.3)
    await asyncio.sleep(0.1)
    assert not phone_b.payloads  # the application has the legs to itself
    await conversation.remove(menu)
    assert conversation.mode is ConversationMode.RELAY
    await phone_a.talk(_at(a), 440, seconds=0.3)
    await asyncio.sleep(0.1)
    assert phone_b.hears(440)


async def test_the_pbx_ends_a_conversation(rig: Rig) -> None:
    a, _ = await rig.leg("a")
    b, _ = await rig.leg("b")
    conversation = Conversation(rig.media)
    await conversation.add(a)
    await conversation.add(b)
    waiting = asyncio.ensure_future(conversation.wait_end())
    await asyncio.sleep(0)
    conversation.end("talk-time limit")
    assert await asyncio.wait_for(waiting, 2) is None
    assert conversation.system_reason == "talk-time limit"
