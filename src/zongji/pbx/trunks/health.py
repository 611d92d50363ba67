"""Is a trunk usable right now? The health of one trunk, from what the runtime observed.

Three things take a trunk out: its registration failing (registration trunks), OPTIONS
keep-alives unanswered (or answered 5xx) `failures_to_down` times in a row, and a failed call
attempt reported by the call engine, which holds it out for a hold-down period. The first
answer to a keep-alive brings it back; a hold-down simply runs out.

This is plain state with no I/O, so the rules can be read (and tested) apart from the sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from zongji.pbx.trunks.config import TrunkConfig


class TrunkState(StrEnum):
    UP = "up"
    UNKNOWN = "unknown"  # not checked yet (registering, first keep-alive pending)
    DOWN = "down"
    DISABLED = "disabled"
    NOT_RUNNING = "not_running"  # this process runs no SIP (API-only)


class DownReason(StrEnum):
    REGISTRATION_FAILED = "registration_failed"
    OPTIONS_UNANSWERED = "options_unanswered"
    CALL_FAILED = "call_failed"  # held down after a failed call attempt
    NO_TRANSPORT = "no_transport"  # we do not listen on the trunk's transport


class Rank(IntEnum):
    """Order of preference among trunks that serve a call, before their priority."""

    UP = 0
    UNKNOWN = 1
    DOWN = 2


@dataclass
class TrunkHealth:
    config: TrunkConfig
    registered: bool | None = None  # None: not a registration trunk
    registration_failed: bool = False
    consecutive_failures: int = 0
    options_down: bool = False
    options_answered: bool = False
    held_until: float = 0.0  # clock.monotonic()
    no_transport: bool = False
    last_checked_at: datetime | None = None
    last_error: str | None = None

    def __post_init__(self) -> None:
        if self.config.registers and self.registered is None:
            self.registered = False

    def state(self, now: float) -> tuple[TrunkState, DownReason | None]:
        if not self.config.enabled:
            return TrunkState.DISABLED, None
        if self.no_transport:
            return TrunkState.DOWN, DownReason.NO_TRANSPORT
        if self.held_until > now:
            return TrunkState.DOWN, DownReason.CALL_FAILED
        if self.registration_failed:
            return TrunkState.DOWN, DownReason.REGISTRATION_FAILED
        if self.options_down:
            return TrunkState.DOWN, DownReason.OPTIONS_UNANSWERED
        if self.config.registers and not self.registered:
            return TrunkState.UNKNOWN, None
        if self.config.options_interval and not self.options_answered:
            return TrunkState.UNKNOWN, None
        return TrunkState.UP, None

    def rank(self, now: float) -> Rank:
        state, _ = self.state(now)
        if state is TrunkState.UP:
            return Rank.UP
        if state is TrunkState.UNKNOWN:
            return Rank.UNKNOWN
        return Rank.DOWN

    # -- observations --------------------------------------------------------------------------

    def keepalive_answered(self, at: datetime) -> None:
        self.consecutive_failures = 0
        self.options_down = False
        self.options_answered = True
        self.last_checked_at = at

    def keepalive_failed(self, at: datetime, error: str, failures_to_down: int) -> None:
        self.consecutive_failures += 1
        self.last_checked_at = at
        self.last_error = error
        if self.consecutive_failures >= failures_to_down:
            self.options_down = True

    def registration_succeeded(self, at: datetime) -> None:
        self.registered = True
        self.registration_failed = False
        self.last_checked_at = at

    def registration_lost(self, at: datetime, error: str) -> None:
        self.registered = False
        self.registration_failed = True
        self.last_checked_at = at
        self.last_error = error

    def call_failed(self, now: float, hold_down: float) -> None:
        self.held_until = max(self.held_until, now + hold_down)
