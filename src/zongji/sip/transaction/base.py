"""What client and server transactions share: state, named timers, termination."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from zongji.sip.message import Request
from zongji.sip.timers import Scheduler, TimerHandle, TimerSettings
from zongji.sip.transport.base import Flow

if TYPE_CHECKING:
    from zongji.sip.transaction.layer import TransactionLayer


class TransactionState(enum.Enum):
    CALLING = "calling"  # INVITE client: request sent, nothing back yet
    TRYING = "trying"  # non-INVITE client and server: nothing sent back yet
    PROCEEDING = "proceeding"  # a provisional response was received / sent
    ACCEPTED = "accepted"  # INVITE, RFC 6026: a 2xx was received / sent
    COMPLETED = "completed"  # a final response (non-2xx for INVITE) was received / sent
    CONFIRMED = "confirmed"  # INVITE server: the ACK for a non-2xx arrived
    TERMINATED = "terminated"


class Transaction:
    """A transaction: one request, its responses, and the timers that make them reliable."""

    __slots__ = ("_request", "_timers", "flow", "key", "layer", "method", "state")

    def __init__(self, layer: TransactionLayer, request: Request, flow: Flow) -> None:
        self.layer = layer
        self._request: Request | None = request
        self.method = request.method
        self.flow = flow
        self.state = TransactionState.TERMINATED
        self.key: tuple[str, ...] = ()
        self._timers: dict[str, TimerHandle] = {}

    @property
    def request(self) -> Request:
        """The request; a server transaction lets go of it once its final response is out."""
        request = self._request
        if request is None:
            raise RuntimeError(f"{self!r} no longer holds its request")
        return request

    @property
    def scheduler(self) -> Scheduler:
        return self.layer.scheduler

    @property
    def settings(self) -> TimerSettings:
        return self.layer.settings

    @property
    def terminated(self) -> bool:
        return self.state is TransactionState.TERMINATED

    def _start_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        """(Re)start timer `name`; a zero delay (reliable transports) fires it at once."""
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        if delay <= 0:
            callback()
            return
        self._timers[name] = self.scheduler.call_later(delay, callback)

    def _cancel_timer(self, *names: str) -> None:
        for name in names:
            handle = self._timers.pop(name, None)
            if handle is not None:
                handle.cancel()

    def _terminate(self) -> None:
        if self.state is TransactionState.TERMINATED:
            return
        self.state = TransactionState.TERMINATED
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.layer._forget(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.state.value} {self.key}>"
