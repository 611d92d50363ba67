"""The talk-time limit on a leg with real media: the warning is heard before the end, and the
call is ended at the limit."""

from __future__ import annotations

import asyncio

from zongji.media.api import EndpointSpec, Prompt
from zongji.media.server import LocalMediaServer
from zongji.pbx.calls.events import MediaEventRouter
from zongji.pbx.calls.legs import CallLeg
from zongji.pbx.calls.limits import TalkLimit, warning_items
from zongji.sip.offer_answer import LocalMedia, SdpSession


class _Ear(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets += 1


async def test_warning_then_hang_up_at_the_limit() -> None:
    loop = asyncio.get_running_loop()
    ear = _Ear()
    transport, _ = await loop.create_datagram_endpoint(lambda: ear, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    async with LocalMediaServer(host="127.0.0.1", port_min=40000, port_max=40999) as media:
        router = MediaEventRouter(media)
        router.start()
        info = await media.create_endpoint(EndpointSpec(remote=("127.0.0.1", port)))
        leg = CallLeg(
            "c1",
            media,
            router,
            info,
            SdpSession(LocalMedia("127.0.0.1", info.local[1])),
            media_timeout=None,
        )
        reached = asyncio.Event()
        limit = TalkLimit(leg, 0.6, reached.set, warn_before=0.4)
        started = loop.time()
        limit.start()
        await asyncio.sleep(0.45)
        assert limit.warned  # the warning started 0.2 s in
        assert ear.packets > 0  # and the caller hears it
        await asyncio.wait_for(reached.wait(), 2)
        assert limit.reached
        assert loop.time() - started >= 0.55
        await leg.close()
        await router.stop()
    transport.close()


def test_the_warning_is_the_catalogue_prompt() -> None:
    assert warning_items() == [Prompt("call_ends_in_one_minute")]


async def test_a_cancelled_limit_never_fires() -> None:
    async with LocalMediaServer(host="127.0.0.1", port_min=40000, port_max=40999) as media:
        router = MediaEventRouter(media)
        info = await media.create_endpoint(EndpointSpec())
        leg = CallLeg(
            "c2",
            media,
            router,
            info,
            SdpSession(LocalMedia("127.0.0.1", info.local[1])),
            media_timeout=None,
        )
        fired: list[bool] = []
        limit = TalkLimit(leg, 0.2, lambda: fired.append(True), warn_before=0.1)
        limit.start()
        limit.cancel()
        await asyncio.sleep(0.4)
        assert fired == []
        await leg.close()
