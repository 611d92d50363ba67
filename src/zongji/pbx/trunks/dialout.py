"""Trunk failover: one outbound call tried through the enterprise's trunks in turn.

`Trunks.dials` lists the ways out, healthy trunks first in priority order. The call part makes
each attempt (an INVITE with its own media leg, ringback, early media); this module decides what
a failed attempt means: a trunk fault (no response at all, 408, 5xx) takes that trunk out for a
while (`Trunks.failed`) and the next one is tried; anything the far end said about the call itself
(busy, 404, no answer) is the answer, and so is the caller giving up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from zongji.pbx.contracts import TrunkDial, Trunks

log = logging.getLogger(__name__)


class TrunkTry(Protocol):
    """What one attempt through one trunk came to."""

    @property
    def answered(self) -> bool: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def status(self) -> int:
        """The trunk's final status (0: none at all, or the INVITE could not be sent)."""
        ...

    @property
    def silent(self) -> bool:
        """No response at all within the trunk set-up time."""
        ...


T = TypeVar("T", bound=TrunkTry)


@dataclass(frozen=True)
class DialOut(Generic[T]):
    answered: T | None  # the attempt that was answered (its call is over when this returns)
    last: T | None  # else the last attempt that failed, which tells the caller why


def is_trunk_fault(attempt: TrunkTry) -> bool:
    status = attempt.status
    return attempt.silent or status in (0, 408) or 500 <= status < 600


async def dial_out(
    trunks: Trunks,
    dials: Sequence[TrunkDial],
    attempt: Callable[[TrunkDial], Awaitable[T]],
    *,
    gone: asyncio.Event,
    call_id: str = "",
) -> DialOut[T]:
    """Try `dials` in turn until one is answered, the far end refuses, or the caller is gone."""
    last: T | None = None
    for dial in dials:
        if gone.is_set():
            break
        result = await attempt(dial)
        if result.answered:
            return DialOut(result, last)
        if result.cancelled and not result.silent:
            break
        last = result
        if not is_trunk_fault(result):
            break
        log.info(
            "trunk %s failed for %s (%s); trying the next", dial.trunk_name, call_id, result.status
        )
        trunks.failed(dial.trunk_id)
    return DialOut(None, last)
