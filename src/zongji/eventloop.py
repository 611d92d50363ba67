"""The event loop every zongji process runs on: uvloop.

`zongji serve` and every other command run on a loop from `new_event_loop`. The tests that run
the node (tests/interop) and the SIP transport tests take their loop from here too, so they run
on the loop users run: a difference between uvloop and the stdlib loop (uvloop's transports do
not subclass asyncio's, its clock ticks in milliseconds) shows up in the tests, not in the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the kind the node runs on."""
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new node loop (as `asyncio.run` does on the stdlib's)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
