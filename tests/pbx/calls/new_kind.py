"""A destination kind the product does not have, with the applications that serve it, kept in
the tests: what a new kind's folder would hold (`tests/pbx/calls/test_new_kinds.py` registers
them into an `Applications` of its own, as the one line in `apps/registry.py` would).

- `WakeUpCall` serves the kind `wake_up_call` (reached by dialling `*55`, or by a configured
  destination whose reference is the time asked for): it answers, waits for the caller's key
  and notes what it was given.
- `KeyMenu` serves `key_menu` (`*56`): one key, then the configured destination that key
  points at (`KEYS`: kinds as text, as configuration stores them).
"""

from __future__ import annotations

from typing import ClassVar

from zongji.pbx.apps.application import AppContext, Application, AppOutcome
from zongji.pbx.contracts import CallStatus
from zongji.pbx.destinations import Destination, DestinationKind, Target

WAKE_UP_CALL = DestinationKind("wake_up_call")

#: what the menu's keys point at, as stored configuration would hold them
KEYS = {"1": Target("wake_up_call", "07:30"), "2": Target("no_such_service")}


class WakeUpCall(Application):
    name = "wake_up_call"
    serves: ClassVar[DestinationKind | None] = WAKE_UP_CALL
    feature_code: ClassVar[str | None] = "*55"
    title = "Wake-up call"

    def __init__(self) -> None:
        self.runs: list[tuple[Destination | None, str]] = []

    async def run(self, context: AppContext) -> AppOutcome:
        key = await context.leg.collect(1, first_timeout=10.0, inter_digit_timeout=1.0)
        self.runs.append((context.destination, key))
        return AppOutcome(CallStatus.ANSWERED, reason="wake-up call booked")


class KeyMenu(Application):
    name = "key_menu"
    serves: ClassVar[DestinationKind | None] = DestinationKind("key_menu")
    feature_code: ClassVar[str | None] = "*56"

    async def run(self, context: AppContext) -> AppOutcome:
        key = await context.leg.collect(1, first_timeout=10.0, inter_digit_timeout=1.0)
        target = KEYS.get(key)
        if target is None or context.leg.hung_up.is_set():
            return AppOutcome(CallStatus.CANCELLED)
        return AppOutcome.then(await context.router.configured(context.tenant, target))
