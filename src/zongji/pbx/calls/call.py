"""One call's state, and the one place it changes.

A call moves through `CallState`:

    ROUTING ──► RINGING ─────────► CONNECTED ──► ENDED
       │   ▲       │    ▲              ▲
       │   │       ▼    │              │
       └──►└── IN_APPLICATION ─────────┘      (every state may go to ENDED)

- ROUTING: the INVITE was classified and the destination resolved; the record is open.
- RINGING: callee devices or a trunk are being rung (failover stays RINGING).
- IN_APPLICATION: the PBX answered the caller itself and an application talks to them
  (the main-number menu, voicemail, greeting recording); it may then ring someone.
- CONNECTED: a person (or an application that counts as the answer) answered; talk time runs.
- ENDED: final; carries the status, the side that hung up, the reason and the policy rule.

`transition()` is the only way to change the state, refuses anything the table does not allow
(`IllegalTransition`), and tells every observer, in order, exactly once per transition: the call
record and the outbound policy's billing (`observers.py`) are such observers, instead of being
called from each of the engine's many exits.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from zongji.pbx.calls.flags import Flag
from zongji.pbx.contracts import CallDirection, CallStatus, HangupSide, Party, TenantLine
from zongji.platform.clock import Clock
from zongji.sip import Dialog


class CallState(enum.StrEnum):
    ROUTING = "routing"
    RINGING = "ringing"
    IN_APPLICATION = "in_application"
    CONNECTED = "connected"
    ENDED = "ended"


ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.ROUTING: frozenset({CallState.RINGING, CallState.IN_APPLICATION, CallState.ENDED}),
    CallState.RINGING: frozenset({CallState.CONNECTED, CallState.IN_APPLICATION, CallState.ENDED}),
    CallState.IN_APPLICATION: frozenset({CallState.RINGING, CallState.CONNECTED, CallState.ENDED}),
    CallState.CONNECTED: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}
"""Which state may follow which."""


class IllegalTransition(RuntimeError):
    """A transition the state table does not allow (a bug in call control)."""


@dataclass(frozen=True)
class Ending:
    """How a call ended, for the record and the bill."""

    status: CallStatus
    side: HangupSide | None
    reason: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class Transition:
    """One change of state and what came with it."""

    call: Call
    old: CallState
    new: CallState
    #: RINGING after an application chose whom to ring: the callee the record now names
    callee: Party | None = None
    #: CONNECTED: who answered, through which trunk
    answered_by: Party | None = None
    trunk_id: uuid.UUID | None = None
    #: IN_APPLICATION / CONNECTED: dialogs to keep with the record (to end them after a crash)
    dialogs: Sequence[Dialog | None] = ()
    ending: Ending | None = None  # ENDED


class CallObserver(Protocol):
    async def observe(self, change: Transition) -> None:
        """Called once per transition; an observer must not raise (log and go on)."""
        ...


@dataclass
class Call:
    """One call in progress: identity, where it stands, and who watches it change."""

    call_id: str
    tenant: TenantLine
    direction: CallDirection
    clock: Clock
    state: CallState = CallState.ROUTING
    observers: list[CallObserver] = field(default_factory=list)
    #: the caller gave up (CANCEL, BYE while the PBX talks to them) or the node is stopping
    gone: asyncio.Event = field(default_factory=Flag)
    stopping: bool = False
    #: seconds the call may last from its answer (the policy's quota), once CONNECTED
    allowed_seconds: int | None = None
    connected_at: float | None = None
    ending: Ending | None = None

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    @property
    def talk_seconds(self) -> int:
        if self.connected_at is None:
            return 0
        return max(0, round(self.clock.monotonic() - self.connected_at))

    async def transition(
        self,
        new: CallState,
        *,
        callee: Party | None = None,
        answered_by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        dialogs: Sequence[Dialog | None] = (),
        ending: Ending | None = None,
    ) -> None:
        old = self.state
        if new not in ALLOWED[old]:
            raise IllegalTransition(f"call {self.call_id}: {old} -> {new}")
        if (new is CallState.ENDED) != (ending is not None):
            raise IllegalTransition(f"call {self.call_id}: ENDED and only ENDED has an ending")
        self.state = new
        if new is CallState.CONNECTED:
            self.connected_at = self.clock.monotonic()
        if ending is not None:
            self.ending = ending
        change = Transition(self, old, new, callee, answered_by, trunk_id, tuple(dialogs), ending)
        for observer in list(self.observers):
            await observer.observe(change)

    async def end(
        self,
        status: CallStatus,
        side: HangupSide | None,
        *,
        reason: str | None = None,
        rule: str | None = None,
    ) -> None:
        """End the call unless it has ended already (the first ending stands). A node that is
        stopping ends calls on its own side."""
        if self.ended:
            return
        if self.stopping and side is not None:
            side = HangupSide.SYSTEM
        await self.transition(CallState.ENDED, ending=Ending(status, side, reason, rule))
