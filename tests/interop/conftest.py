"""Shared by the interop tests: the running-PBX fixture (`pbx`), the peers a test starts
(`peers`, beside the module's `node`) and the event loop.

Every test here runs on the loop `zongji serve` runs on (`zongji.eventloop`, uvloop), so the
stack that SIPp, baresip and Kamailio talk to is the one users run: a difference between loops
(uvloop's transports are not asyncio's classes) cannot hide behind the stdlib loop again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
from tests.interop.pbx_harness import pbx
from tests.interop.peers import peers

from zongji import eventloop

__all__ = ["pbx", "peers"]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"node-loop": eventloop.new_event_loop}
